/* Fuzz target of the configuration parser. Beyond "no crash, no leak" it checks the parser's
 * promises: a refused input leaves the Config byte for byte as it was and says where and why; an
 * accepted one writes back (config_write_yaml) to text that parses to the same Config. The first
 * line of the input is also fed to the duration and size parsers, which must read back their
 * own formatting. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define CHECK(cond)                                                                  \
        do {                                                                         \
                if (!(cond)) {                                                       \
                        fprintf(stderr, "fuzz-config: check failed: %s\n", #cond);   \
                        abort();                                                     \
                }                                                                    \
        } while (0)

static void check_scalars(const uint8_t *data, size_t size) {
        char s[80], text[64];
        size_t n = 0;
        while (n < size && n < sizeof(s) - 1 && data[n] != '\n')
                n++;
        memcpy(s, data, n);
        s[n] = '\0';

        uint64_t v, again;
        if (config_parse_duration(s, &v) == 0) {
                CHECK(config_parse_duration(config_format_duration(v, text, sizeof(text)), &again) == 0);
                CHECK(again == v);
        }
        if (config_parse_bytes(s, &v) == 0) {
                CHECK(config_parse_bytes(config_format_bytes(v, text, sizeof(text)), &again) == 0);
                CHECK(again == v);
        }
}

static void check_round_trip(const Config *c) {
        char *yaml = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&yaml, &len);
        CHECK(f);
        CHECK(config_write_yaml(c, f) == 0);
        CHECK(fclose(f) == 0);

        Config back;
        ColoError err = {};
        config_init_defaults(&back);
        int r = config_parse_yaml(yaml, len, "written.yaml", &back, &err);
        if (r < 0)
                fprintf(stderr, "fuzz-config: written config refused: %s\n%s", err.msg, yaml);
        CHECK(r == 0);
        CHECK(config_equal(&back, c));
        free(yaml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Config c, before;
        ColoError err = {};

        config_init_defaults(&c);
        memcpy(&before, &c, sizeof(before));
        int r = config_parse_yaml((const char *) data, size, "fuzz.yaml", &c, &err);
        if (r < 0) {
                CHECK(memcmp(&c, &before, sizeof(c)) == 0);
                CHECK(strncmp(err.msg, "fuzz.yaml", 9) == 0);
                CHECK(err.code > 0);
        } else
                check_round_trip(&c);

        /* Without an error object the outcome is the same. */
        Config quiet;
        config_init_defaults(&quiet);
        CHECK(config_parse_yaml((const char *) data, size, NULL, &quiet, NULL) == r);

        check_scalars(data, size);
        return 0;
}
