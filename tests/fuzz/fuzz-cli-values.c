/* Fuzz target of the values colo's command lines take and the names it reads back from cgroupfs:
 * workload names (--name, and the leaf directories `colo run`, `colo move`, `colo status` and the
 * agent list), names derived from a command (`colo run` without --name), --class and --tier,
 * --listen ADDR:PORT of `colo webhook` and `colo extender`, and the strict number parsers behind
 * --max-body, --timeout, --threads and `colo sim`'s options. Each input line is one value, fed to
 * every parser. Beyond "no crash, no leak", each accepted value reads back from its own
 * formatting: a name gives a leaf path per tier that parses back to the same name and tier. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd/https-server.h"
#include "model/workload.h"
#include "workloads/tree.h"
#include "util/fileio.h"

#define CHECK(cond)                                                                        \
        do {                                                                               \
                if (!(cond)) {                                                             \
                        fprintf(stderr, "fuzz-cli-values: check failed: %s\n", #cond);     \
                        abort();                                                           \
                }                                                                          \
        } while (0)

static void check_name(const char *s) {
        char path[TREE_PATH_MAX];
        TreeWorkload w;
        bool valid = workload_name_is_valid(s);
        for (WorkloadTier t = 0; t < _TIER_MAX; t++) {
                int r = tree_workload_path(t, s, path, sizeof(path));
                CHECK(valid ? r == 0 : r == -EINVAL);
                if (r < 0)
                        continue;
                CHECK(tree_parse_path(path, &w) == 0);
                CHECK(w.tier == t && w.cls == workload_tier_class(t) && strcmp(w.name, s) == 0);
                CHECK(strcmp(w.path, path) == 0);
        }
        /* A path read from the tree parses only when it is exactly a leaf of the layout. */
        if (tree_parse_path(s, &w) == 0) {
                CHECK(workload_name_is_valid(w.name) && strcmp(w.path, s) == 0);
                CHECK(tree_workload_path(w.tier, w.name, path, sizeof(path)) == 0 && strcmp(path, s) == 0);
        }
}

static void check_generated_name(const char *s, uint32_t suffix) {
        char name[WORKLOAD_NAME_MAX];
        int r = tree_generate_name(s, suffix, name, sizeof(name));
        CHECK(r == 0 || r == -ENAMETOOLONG || r == -EINVAL);
        if (r == 0)
                CHECK(workload_name_is_valid(name) && name[0] != '.');
}

static void check_class_tier(const char *s) {
        WorkloadClass c = workload_class_from_string(s);
        if (c >= 0)
                CHECK(c < _CLASS_MAX && strcmp(workload_class_to_string(c), s) == 0);
        WorkloadTier t = workload_tier_from_string(s);
        if (t >= 0)
                CHECK(t < _TIER_MAX && strcmp(workload_tier_to_string(t), s) == 0 &&
                      workload_tier_class(t) >= 0);
}

static void check_listen(const char *s) {
        char addr[64], again[64], text[96];
        uint16_t port, port_again;
        if (https_listen_parse(s, addr, sizeof(addr), &port) < 0)
                return;
        CHECK(addr[0] && strlen(addr) < sizeof(addr));
        if (strpbrk(addr, "[]"))
                return;         /* no address has brackets: the server's inet_pton() refuses it */
        snprintf(text, sizeof(text), strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, (unsigned) port);
        CHECK(https_listen_parse(text, again, sizeof(again), &port_again) == 0);
        CHECK(strcmp(again, addr) == 0 && port_again == port);
}

static void check_numbers(const char *s) {
        char text[64];
        uint64_t u, u2;
        if (parse_u64(s, &u) == 0) {
                snprintf(text, sizeof(text), "%" PRIu64, u);
                CHECK(parse_u64(text, &u2) == 0 && u2 == u);
        }
        int64_t i, i2;
        if (parse_i64(s, &i) == 0) {
                snprintf(text, sizeof(text), "%" PRIi64, i);
                CHECK(parse_i64(text, &i2) == 0 && i2 == i);
        }
        double d, d2;
        if (parse_double(s, &d) == 0) {
                CHECK(isfinite(d));
                snprintf(text, sizeof(text), "%.17g", d);
                CHECK(parse_double(text, &d2) == 0 && d2 == d);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 4096)
                return 0;
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        uint32_t suffix = 0;
        memcpy(&suffix, data, size < sizeof(suffix) ? size : sizeof(suffix));
        for (char *line = text, *next; line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                check_name(line);
                check_generated_name(line, suffix);
                check_class_tier(line);
                check_listen(line);
                check_numbers(line);
        }
        free(text);
        return 0;
}
