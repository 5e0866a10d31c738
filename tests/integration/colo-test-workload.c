/* A tiny workload for the agent's integration tests, so they need nothing beyond the build:
 *   colo-test-workload spin [THREADS]                burn THREADS CPUs (default 1) forever
 *   colo-test-workload hold MIB                      touch MIB of anonymous memory, then sleep
 *   colo-test-workload grow STEP_MIB STEP_MS MAX_MIB  add STEP_MIB every STEP_MS up to MAX_MIB, then sleep
 *   colo-test-workload stubborn MODE ARGS...          the same, ignoring SIGTERM (for SIGKILL after a grace period)
 *   colo-test-workload forkbomb N                     try to fork N children (bounded, never more), print
 *                                                     "forkbomb: N forked, M refused (error)", then sleep
 * Memory is written page by page so it is resident (and charged to the cgroup) at once. Runs
 * until killed. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static void touch(size_t mib) {
        char *p = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
                fprintf(stderr, "colo-test-workload: mmap %zu MiB: %s\n", mib, strerror(errno));
                exit(1);
        }
        long page = sysconf(_SC_PAGESIZE);
        for (size_t off = 0; off < mib * MIB; off += (size_t) page)
                p[off] = 1;
}

static void sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void *spin(void *unused) {
        volatile unsigned long n = 0;
        (void) unused;
        for (;;)
                n++;
        return NULL;
}

/* A bounded fork bomb: n attempts, each child sleeps until killed (and dies with the parent), so
 * the process count only grows to what the pids controller allows. */
static void forkbomb(long n) {
        long forked = 0, refused = 0;
        int first_errno = 0;
        pid_t parent = getpid();
        for (long i = 0; i < n; i++) {
                pid_t pid = fork();
                if (pid == 0) {
                        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                        if (getppid() != parent)
                                _exit(0);
                        for (;;)
                                pause();
                }
                if (pid > 0)
                        forked++;
                else {
                        refused++;
                        if (!first_errno)
                                first_errno = errno;
                }
        }
        printf("forkbomb: %ld forked, %ld refused (%s)\n", forked, refused, first_errno ? strerror(first_errno) : "none");
        fflush(stdout);
        for (;;)
                pause();
}

static long arg(const char *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*s == '\0' || *end != '\0' || v <= 0) {
                fprintf(stderr, "colo-test-workload: bad number '%s'\n", s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        if (argc > 2 && strcmp(argv[1], "stubborn") == 0) {
                (void) signal(SIGTERM, SIG_IGN);
                argv++;
                argc--;
        }
        if ((argc == 2 || argc == 3) && strcmp(argv[1], "spin") == 0) {
                long threads = argc == 3 ? arg(argv[2]) : 1;
                for (long i = 1; i < threads; i++) {
                        pthread_t t;
                        if (pthread_create(&t, NULL, spin, NULL) != 0) {
                                fprintf(stderr, "colo-test-workload: cannot start thread %ld\n", i);
                                return 1;
                        }
                }
                spin(NULL);
        }
        if (argc == 3 && strcmp(argv[1], "hold") == 0) {
                touch((size_t) arg(argv[2]));
                for (;;)
                        pause();
        }
        if (argc == 5 && strcmp(argv[1], "grow") == 0) {
                long step = arg(argv[2]), ms = arg(argv[3]), max = arg(argv[4]);
                for (long have = 0; have + step <= max; have += step) {
                        touch((size_t) step);
                        sleep_ms(ms);
                }
                for (;;)
                        pause();
        }
        if (argc == 3 && strcmp(argv[1], "forkbomb") == 0)
                forkbomb(arg(argv[2]));
        fprintf(stderr, "usage: colo-test-workload [stubborn] spin [THREADS] | hold MIB | grow STEP_MIB STEP_MS MAX_MIB | "
                        "forkbomb N\n");
        return 2;
}
