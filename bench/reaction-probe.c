/* colo-reaction-probe: measures how fast colo lowers the offline memory budget after an online
 * memory step. Run it as an online workload (`colo run --class online -- colo-reaction-probe
 * ...`). Each step maps --step-mib MiB and populates it 1 MiB at a time
 * (madvise(MADV_POPULATE_WRITE)), as fast as the kernel allows, and keeps it, so steps form a
 * staircase: every step takes online memory above everything seen before, which is what crosses
 * the agent's memory threshold (or, under real pressure, its PSI trigger). A second thread polls
 * the offline parent's memory limit file (--limit-file) every 100 us from just before the step
 * until the limit is lower than before the step.
 *
 * Per step it reports, all from CLOCK_MONOTONIC:
 *   alloc_ms         step start -> step complete (the whole step populated)
 *   from_start_ms    step start -> lowered limit first visible in the file
 *   from_trigger_ms  the step reaching --trigger-mib (the growth at which the agent's memory
 *                    threshold fires) -> lowered limit visible: colo's end-to-end reaction
 *   from_end_ms      step complete -> lowered limit visible (negative: colo reacted mid-step)
 *   agent_ms         the agent's own colo_reaction_seconds (event received -> budget written),
 *                    read from its /metrics after the step, with --metrics-port
 * and a line "timeout" when the limit did not drop within --timeout-ms. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MIB (UINT64_C(1) << 20)
#define POLL_INTERVAL_NSEC 100000

typedef struct Options {
        const char *limit_file;
        unsigned step_mib, steps;
        unsigned trigger_mib;           /* growth at which the agent's memory threshold fires */
        unsigned settle_ms, timeout_ms;
        uint16_t metrics_port;
        bool json;
} Options;

/* Shared between the main thread and the poller, which runs for the whole program so its stack
 * and code are faulted in before any step (a fresh thread would fault during the step). */
typedef struct Poller {
        int fd;
        _Atomic bool quit;
        _Atomic uint64_t armed_until_ns;        /* poll while now < this; 0 = idle */
        _Atomic uint64_t before;                /* the limit just before the step */
        _Atomic uint64_t lowered_ns;            /* 0 until a lower limit is seen */
        _Atomic uint64_t after;
} Poller;

static uint64_t now_ns(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void sleep_ns(uint64_t ns) {
        struct timespec ts = { .tv_sec = (time_t) (ns / 1000000000ULL), .tv_nsec = (long) (ns % 1000000000ULL) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Reads an unsigned integer file (memory.limit_in_bytes or memory.max; "max" = UINT64_MAX). */
static int read_u64_fd(int fd, uint64_t *ret) {
        char buf[64];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return n < 0 ? -errno : -EIO;
        buf[n] = 0;
        if (strncmp(buf, "max", 3) == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(buf, &end, 10);
        if (errno || end == buf)
                return -EINVAL;
        *ret = v;
        return 0;
}

static void *poll_limit(void *arg) {
        Poller *p = arg;
        while (!atomic_load(&p->quit)) {
                uint64_t v, until = atomic_load(&p->armed_until_ns);
                bool armed = until != 0 && atomic_load(&p->lowered_ns) == 0 && now_ns() < until;
                /* Any decrease counts: within a staircase the budget only falls when online grows. */
                if (armed && read_u64_fd(p->fd, &v) >= 0 && v < atomic_load(&p->before)) {
                        uint64_t t = now_ns();
                        atomic_store(&p->after, v);
                        atomic_store(&p->lowered_ns, t);
                }
                sleep_ns(armed ? POLL_INTERVAL_NSEC : 10 * POLL_INTERVAL_NSEC);
        }
        return NULL;
}

/* GETs the agent's /metrics and extracts one sample value by exact metric name. */
static int metrics_value(uint16_t port, const char *name, double *ret) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        static char buf[1 << 20];
        size_t len = 0;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct timeval tv = { .tv_sec = 2 };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || write(fd, req, sizeof(req) - 1) != sizeof(req) - 1) {
                int r = -errno;
                close(fd);
                return r;
        }
        for (;;) {
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (len == sizeof(buf) - 1)
                        break;
        }
        close(fd);
        buf[len] = 0;
        size_t nl = strlen(name);
        for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (strncmp(line, name, nl) == 0 && line[nl] == ' ') {
                        *ret = strtod(line + nl + 1, NULL);
                        return 0;
                }
        return -ENOENT;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v < lo || v > hi)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int parse_options(int argc, char **argv, Options *o) {
        static const struct option longopts[] = {
                { "limit-file", required_argument, NULL, 'l' },
                { "step-mib", required_argument, NULL, 's' },
                { "steps", required_argument, NULL, 'n' },
                { "trigger-mib", required_argument, NULL, 'g' },
                { "settle-ms", required_argument, NULL, 'w' },
                { "timeout-ms", required_argument, NULL, 't' },
                { "metrics-port", required_argument, NULL, 'p' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        *o = (Options) { .step_mib = 96, .steps = 10, .trigger_mib = 64, .settle_ms = 1500, .timeout_ms = 3000 };
        unsigned port = 0;
        int c;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
                int r = 0;
                switch (c) {
                case 'l': o->limit_file = optarg; break;
                case 's': r = parse_uint(optarg, 1, 16384, &o->step_mib); break;
                case 'n': r = parse_uint(optarg, 1, 1000, &o->steps); break;
                case 'g': r = parse_uint(optarg, 1, 16384, &o->trigger_mib); break;
                case 'w': r = parse_uint(optarg, 0, 60000, &o->settle_ms); break;
                case 't': r = parse_uint(optarg, 1, 60000, &o->timeout_ms); break;
                case 'p': r = parse_uint(optarg, 1, 65535, &port); break;
                case 'j': o->json = true; break;
                case 'h':
                        printf("Usage: colo-reaction-probe --limit-file PATH [--step-mib 96] [--trigger-mib 64] [--steps 10]\n"
                               "       [--settle-ms 1500] [--timeout-ms 3000] [--metrics-port PORT] [--json]\n");
                        exit(EXIT_SUCCESS);
                default: return -EINVAL;
                }
                if (r < 0) {
                        fprintf(stderr, "colo-reaction-probe: invalid value '%s'\n", optarg);
                        return r;
                }
        }
        if (!o->limit_file || optind < argc) {
                fprintf(stderr, "colo-reaction-probe: --limit-file is required (see --help)\n");
                return -EINVAL;
        }
        if (o->trigger_mib > o->step_mib) {
                fprintf(stderr, "colo-reaction-probe: --trigger-mib must not exceed --step-mib\n");
                return -EINVAL;
        }
        o->metrics_port = (uint16_t) port;
        return 0;
}

int main(int argc, char **argv) {
        Options o;
        if (parse_options(argc, argv, &o) < 0)
                return 2;
        int fd = open(o.limit_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "colo-reaction-probe: open '%s': %s\n", o.limit_file, strerror(errno));
                return 1;
        }
        (void) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
        size_t step = (size_t) o.step_mib * MIB;
        int failures = 0;
        Poller p = { .fd = fd };
        pthread_t th;
        int r = pthread_create(&th, NULL, poll_limit, &p);
        if (r != 0) {
                fprintf(stderr, "colo-reaction-probe: pthread_create: %s\n", strerror(r));
                return 1;
        }

        for (unsigned i = 1; i <= o.steps; i++) {
                sleep_ns((uint64_t) o.settle_ms * 1000000ULL);
                /* colo_reaction_seconds is a histogram: this round's reaction is the growth of its
                 * sum over the growth of its count (normally one event). */
                double events0 = NAN, events1 = NAN, agent_s = NAN;
                double rsum0 = NAN, rsum1 = NAN, rcount0 = NAN, rcount1 = NAN;
                uint64_t before;
                if (read_u64_fd(fd, &before) < 0) {
                        fprintf(stderr, "colo-reaction-probe: cannot read '%s'\n", o.limit_file);
                        return 1;
                }
                if (o.metrics_port) {
                        (void) metrics_value(o.metrics_port, "colo_fast_reaction_events_total", &events0);
                        (void) metrics_value(o.metrics_port, "colo_reaction_seconds_sum", &rsum0);
                        (void) metrics_value(o.metrics_port, "colo_reaction_seconds_count", &rcount0);
                }

                atomic_store(&p.before, before);
                atomic_store(&p.lowered_ns, 0);
                uint64_t t0 = now_ns();
                uint64_t deadline = t0 + (uint64_t) o.timeout_ms * 1000000ULL;
                atomic_store(&p.armed_until_ns, deadline);
                /* The step itself, populated 1 MiB at a time so the moment it reaches the trigger
                 * is known; the mapping is kept (the staircase) until exit. */
                char *m = mmap(NULL, step, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (m == MAP_FAILED) {
                        fprintf(stderr, "colo-reaction-probe: mmap %u MiB: %s\n", o.step_mib, strerror(errno));
                        return 1;
                }
                uint64_t t_trigger = 0;
                for (unsigned mib = 0; mib < o.step_mib; mib++) {
                        if (madvise(m + (size_t) mib * MIB, MIB, MADV_POPULATE_WRITE) < 0) {
                                fprintf(stderr, "colo-reaction-probe: populating %u MiB: %s\n", o.step_mib,
                                        strerror(errno));
                                return 1;
                        }
                        if (mib + 1 == o.trigger_mib)
                                t_trigger = now_ns();
                }
                uint64_t t1 = now_ns();
                while (atomic_load(&p.lowered_ns) == 0 && now_ns() < deadline)
                        sleep_ns(1000000);
                atomic_store(&p.armed_until_ns, 0);
                uint64_t t2 = atomic_load(&p.lowered_ns), after = atomic_load(&p.after);
                if (o.metrics_port) {
                        (void) metrics_value(o.metrics_port, "colo_fast_reaction_events_total", &events1);
                        (void) metrics_value(o.metrics_port, "colo_reaction_seconds_sum", &rsum1);
                        (void) metrics_value(o.metrics_port, "colo_reaction_seconds_count", &rcount1);
                        if (rcount1 > rcount0)
                                agent_s = (rsum1 - rsum0) / (rcount1 - rcount0);
                }
                bool fast = !isnan(events0) && !isnan(events1) && events1 > events0;
                if (t2 == 0)
                        failures++;
                double from_trigger = t2 && t_trigger ? ((double) t2 - (double) t_trigger) / 1e6 : NAN;
                if (o.json)
                        printf("{\"step\": %u, \"step_mib\": %u, \"trigger_mib\": %u, \"alloc_ms\": %.3f, "
                               "\"lowered\": %s, \"from_start_ms\": %.3f, \"from_trigger_ms\": %.3f, "
                               "\"from_end_ms\": %.3f, \"limit_before\": %" PRIu64 ", \"limit_after\": %" PRIu64
                               ", \"fast_event\": %s, \"agent_ms\": %.3f}\n",
                               i, o.step_mib, o.trigger_mib, (t1 - t0) / 1e6, t2 ? "true" : "false",
                               t2 ? (t2 - t0) / 1e6 : -1.0, isnan(from_trigger) ? -1.0 : from_trigger,
                               t2 ? ((double) t2 - (double) t1) / 1e6 : -1.0, before, t2 ? after : before,
                               fast ? "true" : "false", fast && !isnan(agent_s) ? agent_s * 1e3 : -1.0);
                else if (t2)
                        printf("step %2u: +%u MiB in %.1f ms; limit %" PRIu64 " -> %" PRIu64 " MiB after %.1f ms "
                               "from the step's start, %+.1f ms from reaching %u MiB, %+.1f ms from its end%s\n", i,
                               o.step_mib, (t1 - t0) / 1e6, before / MIB, after / MIB, (t2 - t0) / 1e6,
                               from_trigger, o.trigger_mib, ((double) t2 - (double) t1) / 1e6,
                               o.metrics_port && !fast ? " [no fast event: a periodic tick]" : "");
                else
                        printf("step %2u: +%u MiB in %.1f ms; timeout: limit still %" PRIu64 " MiB after %u ms\n", i,
                               o.step_mib, (t1 - t0) / 1e6, before / MIB, o.timeout_ms);
                fflush(stdout);
        }
        atomic_store(&p.quit, true);
        (void) pthread_join(th, NULL);
        close(fd);
        return failures ? 3 : 0;
}
