/* Runs every file of a corpus directory through LLVMFuzzerTestOneInput once, so fuzz targets are
 * regression tests under `meson test` without clang's libFuzzer (systemd's fuzz-main.c). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
                return 2;
        }
        DIR *d = opendir(argv[1]);
        if (!d) {
                perror(argv[1]);
                return 1;
        }
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
                char *buf = NULL;
                size_t size = 0;
                ColoError err = {};
                if (read_full_file(path, 64 << 20, &buf, &size, &err) < 0) {
                        fprintf(stderr, "%s\n", err.msg);
                        closedir(d);
                        return 1;
                }
                LLVMFuzzerTestOneInput((const uint8_t *) buf, size);
                free(buf);
                n++;
        }
        closedir(d);
        printf("replayed %d inputs from %s\n", n, argv[1]);
        return n > 0 ? 0 : 1;
}
