/* colo-mem-hog: an offline memory hog for the demo and benchmarks. Allocates --mib MiB in 16 MiB
 * chunks, touching every page, then keeps re-touching them once a second so they stay in its
 * working set, until --seconds pass or it is killed. If an allocation fails it keeps what it has
 * (a memory limit makes the kernel reclaim or OOM-kill it, which is what colo is about). */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (16UL << 20)
#define CHUNKS_MAX 65536

static void touch(char *p, size_t len) {
        long page = sysconf(_SC_PAGESIZE);
        for (size_t o = 0; o < len; o += (size_t) page)
                ((volatile char *) p)[o]++;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "mib", required_argument, NULL, 'm' },
                { "seconds", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        unsigned long mib = 256, seconds = 0;
        int c;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
                char *end;
                switch (c) {
                case 'm':
                        errno = 0;
                        mib = strtoul(optarg, &end, 10);
                        if (errno || *end || mib == 0 || mib > CHUNKS_MAX * (CHUNK >> 20)) {
                                fprintf(stderr, "colo-mem-hog: invalid --mib '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 's':
                        errno = 0;
                        seconds = strtoul(optarg, &end, 10);
                        if (errno || *end) {
                                fprintf(stderr, "colo-mem-hog: invalid --seconds '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        printf("Usage: colo-mem-hog [--mib 256] [--seconds N (0: until killed)]\n");
                        return 0;
                default:
                        return 2;
                }
        }

        static char *chunks[CHUNKS_MAX];
        size_t n = 0, want = (mib * (1UL << 20) + CHUNK - 1) / CHUNK;
        for (; n < want; n++) {
                chunks[n] = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (chunks[n] == MAP_FAILED) {
                        fprintf(stderr, "colo-mem-hog: holding %zu MiB, no more: %s\n", n * (CHUNK >> 20), strerror(errno));
                        break;
                }
                touch(chunks[n], CHUNK);
        }
        time_t end = seconds ? time(NULL) + (time_t) seconds : 0;
        while (!end || time(NULL) < end) {
                sleep(1);
                for (size_t i = 0; i < n; i++)
                        touch(chunks[i], CHUNK);
        }
        return 0;
}
