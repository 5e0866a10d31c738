/* colo-cpu-reaction-probe: measures how fast colo's CPU interference controller lowers the
 * offline CPU quota after an online CPU-pressure step. Run it as an online workload (`colo run
 * --class online -- colo-cpu-reaction-probe ...`). It keeps --threads threads parked on a pipe;
 * a step writes one byte per thread and they spin, so online work wants more CPUs than there are
 * and waits (PSI cpu some of the online parent) from the first microsecond. A poller thread
 * reads the offline parent's quota file (--quota-file: cpu.cfs_quota_us on v1, cpu.max on v2)
 * every 100 us from just before the step until the quota is lower than before it ("max" / -1
 * counts as unlimited). Then the spinners park again and the probe sleeps --settle-ms (up to three
 * times) until the quota is back to its value before the step (the controller lifting its cap),
 * so the next step starts from the same state.
 *
 * Per step (CLOCK_MONOTONIC), one JSON line with --json:
 *   reaction_ms   step start -> lowered quota first visible in the file (-1: not within
 *                 --timeout-ms)
 *   restored      whether the quota was back to its value before the step within 3 x --settle-ms */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_INTERVAL_NSEC 100000
#define NSEC_PER_MSEC 1000000ULL
#define UNLIMITED INT64_MAX

typedef struct Options {
        const char *quota_file;
        unsigned threads, steps, settle_ms, timeout_ms;
        bool json;
} Options;

static _Atomic bool spinning;
static int park_pipe[2];

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void sleep_ns(uint64_t ns) {
        struct timespec ts = { .tv_sec = (time_t) (ns / 1000000000ULL), .tv_nsec = (long) (ns % 1000000000ULL) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* The quota in the file: a number of microseconds, or UNLIMITED for "max" / -1; -2 unreadable. */
static int64_t read_quota(int fd) {
        char buf[64];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return -2;
        buf[n] = '\0';
        if (strncmp(buf, "max", 3) == 0)
                return UNLIMITED;
        char *end;
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (errno != 0 || end == buf)
                return -2;
        return v < 0 ? UNLIMITED : v;
}

static void *spinner(void *unused) {
        (void) unused;
        for (;;) {
                char c;
                if (read(park_pipe[0], &c, 1) != 1)
                        return NULL;
                volatile uint64_t x = 0;
                while (atomic_load_explicit(&spinning, memory_order_relaxed))
                        x++;
        }
}

/* Polls until the quota is below before (returns the time it was seen) or the deadline. */
static uint64_t wait_lowered(int fd, int64_t before, uint64_t deadline) {
        for (uint64_t t = now_ns(); t < deadline; t = now_ns()) {
                int64_t q = read_quota(fd);
                if (q >= 0 && q < before)
                        return t;
                sleep_ns(POLL_INTERVAL_NSEC);
        }
        return 0;
}

/* Sleeps the whole settle time before each check: on a busy machine every wake-up of the probe
 * is online work waiting for CPU, which would keep the controller from seeing the calm it waits
 * for (isolation.cpu_pressure_release). Up to three rounds. */
static bool wait_restored(int fd, int64_t before, uint64_t settle_ns) {
        for (int round = 0; round < 3; round++) {
                sleep_ns(settle_ns);
                if (read_quota(fd) == before)
                        return true;
        }
        return false;
}

static int parse_options(int argc, char **argv, Options *o) {
        static const struct option longopts[] = {
                { "quota-file", required_argument, NULL, 'q' }, { "threads", required_argument, NULL, 't' },
                { "steps", required_argument, NULL, 's' },      { "settle-ms", required_argument, NULL, 'S' },
                { "timeout-ms", required_argument, NULL, 'T' }, { "json", no_argument, NULL, 'j' },
                {},
        };
        *o = (Options) { .threads = 4, .steps = 10, .settle_ms = 5000, .timeout_ms = 2000 };
        int c;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0)
                switch (c) {
                case 'q': o->quota_file = optarg; break;
                case 't': o->threads = (unsigned) strtoul(optarg, NULL, 10); break;
                case 's': o->steps = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'S': o->settle_ms = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'T': o->timeout_ms = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'j': o->json = true; break;
                default: return -1;
                }
        if (!o->quota_file || o->threads == 0 || o->threads > 1024 || o->steps == 0) {
                fprintf(stderr, "usage: colo-cpu-reaction-probe --quota-file FILE [--threads 4] [--steps 10] "
                                "[--settle-ms 5000] [--timeout-ms 2000] [--json]\n");
                return -1;
        }
        return 0;
}

int main(int argc, char **argv) {
        Options o;
        if (parse_options(argc, argv, &o) < 0)
                return 2;
        int fd = open(o.quota_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || pipe(park_pipe) < 0) {
                fprintf(stderr, "cannot open '%s': %s\n", o.quota_file, strerror(errno));
                return 1;
        }
        for (unsigned i = 0; i < o.threads; i++) {
                pthread_t t;
                if (pthread_create(&t, NULL, spinner, NULL) != 0) {
                        fprintf(stderr, "cannot start a spinner thread\n");
                        return 1;
                }
        }

        /* Starting the probe (colo run, exec, threads) is online work too: let its cap go first. */
        sleep_ns(o.settle_ms * NSEC_PER_MSEC);
        for (unsigned step = 0; step < o.steps; step++) {
                int64_t before = read_quota(fd);
                if (before < 0) {
                        fprintf(stderr, "cannot read '%s'\n", o.quota_file);
                        return 1;
                }
                struct timespec wall;
                clock_gettime(CLOCK_REALTIME, &wall);
                uint64_t start = now_ns();
                atomic_store(&spinning, true);
                for (unsigned i = 0; i < o.threads; i++)
                        if (write(park_pipe[1], "x", 1) != 1)
                                return 1;
                uint64_t seen = wait_lowered(fd, before, start + o.timeout_ms * NSEC_PER_MSEC);
                atomic_store(&spinning, false);
                bool restored = wait_restored(fd, before, o.settle_ms * NSEC_PER_MSEC);
                double ms = seen ? (double) (seen - start) / (double) NSEC_PER_MSEC : -1.0;
                if (o.json)
                        printf("{\"step\":%u,\"start_realtime\":%lld.%06ld,\"before_us\":%" PRId64
                               ",\"reaction_ms\":%.3f,\"restored\":%s}\n",
                               step, (long long) wall.tv_sec, wall.tv_nsec / 1000, before == UNLIMITED ? -1 : before, ms,
                               restored ? "true" : "false");
                else
                        printf("step %u: %s%.1f ms%s\n", step, seen ? "lowered after " : "NOT lowered: ", seen ? ms : 0.0,
                               restored ? "" : " (quota not restored before the next step)");
                fflush(stdout);
        }
        return 0;
}
