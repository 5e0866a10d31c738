/* colo-loadgen: an open-loop memcached load generator for colo's benchmarks.
 *
 * Requests arrive as a Poisson process at a fixed rate, whatever the server does: each request
 * has an intended send time drawn in advance, and its latency is measured from that time to the
 * end of its reply. A server (or a load generator) that stalls therefore shows the queueing
 * delay it caused in the tail instead of hiding it by sending less ("coordinated omission").
 * Requests are spread round-robin over N connections and pipelined on each; replies on one
 * connection come back in order, so each connection keeps a FIFO of intended send times.
 *
 * One thread, epoll_pwait2() with a nanosecond timeout (and 1 ns timer slack) until the next arrival. Talks to 127.0.0.1 only.
 * Before measuring it stores every key once (a closed-loop warm-up), so gets hit. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "latency-histogram.h"
#include "memcache-text.h"

#define NSEC_PER_SEC_LG UINT64_C(1000000000)
#define CONNECTIONS_MAX 256
#define KEY_PREFIX "colo-bench:"
#define WARMUP_BATCH 256

typedef struct Options {
        uint16_t port;
        double rate;                    /* requests per second */
        double duration_sec;
        unsigned connections;
        unsigned keys;
        unsigned keys_per_get;          /* keys in one get ("get k1 k2 ..."), 1..MC_KEYS_MAX */
        unsigned value_size;
        double set_ratio;               /* fraction of requests that are sets; the rest are gets */
        uint64_t seed;
        double drain_sec;               /* how long to wait for outstanding replies at the end */
        uint64_t max_outstanding;       /* beyond this, new arrivals are dropped and counted */
        bool warmup;
        bool json;
} Options;

typedef enum RequestKind { REQUEST_GET, REQUEST_SET } RequestKind;

typedef struct Pending {
        uint64_t intended_ns;
        uint8_t kind;
} Pending;

typedef struct Conn {
        int fd;
        bool dead;
        bool want_write;                /* EPOLLOUT armed */
        char *out;
        size_t out_start, out_len, out_cap;
        char *in;
        size_t in_len, in_cap;
        Pending *fifo;                  /* ring of requests awaiting replies, oldest at head */
        size_t fifo_head, fifo_len, fifo_cap;
} Conn;

typedef struct Stats {
        LatencyHistogram latency;       /* intended send -> reply complete */
        LatencyHistogram send_lag;      /* intended send -> handed to the socket */
        uint64_t sent, completed, hits, misses, server_errors, not_stored;
        uint64_t dropped;               /* not sent: too many outstanding */
        uint64_t conn_failed;           /* outstanding when a connection failed, or unanswered at the end */
} Stats;

typedef struct Loadgen {
        Options opt;
        int epfd;
        Conn conns[CONNECTIONS_MAX];
        unsigned next_conn;
        uint64_t outstanding;
        uint64_t rng[4];
        char *value;                    /* the value every set stores */
        char *request;                  /* scratch for formatting one request */
        size_t request_size;
        bool measuring;                 /* record replies into stats (false during warm-up) */
        Stats stats;
} Loadgen;

static uint64_t now_ns(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC_LG + (uint64_t) ts.tv_nsec;
}

/* xoshiro256** seeded through splitmix64: fast, and reproducible from --seed. */
static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4]) {
        uint64_t result = rotl(s[1] * 5, 7) * 9;
        uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

/* Uniform in (0, 1]. */
static double rng_unit(uint64_t s[4]) {
        return ((double) (rng_next(s) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

static uint64_t next_interarrival_ns(Loadgen *lg) {
        return (uint64_t) (-log(rng_unit(lg->rng)) / lg->opt.rate * 1e9);
}

static int grow(void **buf, size_t *cap, size_t need, size_t elem) {
        if (need <= *cap)
                return 0;
        size_t n = *cap ? *cap : 64;
        while (n < need)
                n *= 2;
        void *p = realloc(*buf, n * elem);
        if (!p)
                return -ENOMEM;
        *buf = p;
        *cap = n;
        return 0;
}

static int fifo_push(Conn *c, uint64_t intended_ns, RequestKind kind) {
        if (c->fifo_len == c->fifo_cap) {
                size_t old_cap = c->fifo_cap;
                void *p = c->fifo;
                size_t cap = old_cap;
                if (grow(&p, &cap, old_cap + 1, sizeof(Pending)) < 0)
                        return -ENOMEM;
                c->fifo = p;
                /* Unwrap: entries that wrapped to the front move behind the old end. */
                size_t wrapped = c->fifo_head + c->fifo_len > old_cap ? c->fifo_head + c->fifo_len - old_cap : 0;
                memcpy(c->fifo + old_cap, c->fifo, wrapped * sizeof(Pending));
                c->fifo_cap = cap;
        }
        c->fifo[(c->fifo_head + c->fifo_len) % c->fifo_cap] = (Pending) { intended_ns, (uint8_t) kind };
        c->fifo_len++;
        return 0;
}

static Pending fifo_pop(Conn *c) {
        Pending p = c->fifo[c->fifo_head];
        c->fifo_head = (c->fifo_head + 1) % c->fifo_cap;
        c->fifo_len--;
        return p;
}

static void conn_fail(Loadgen *lg, Conn *c, const char *why, int error) {
        if (c->dead)
                return;
        fprintf(stderr, "colo-loadgen: connection %zu failed: %s%s%s, %zu requests lost\n",
                (size_t) (c - lg->conns), why, error ? ": " : "", error ? strerror(error) : "", c->fifo_len);
        if (lg->measuring)
                lg->stats.conn_failed += c->fifo_len;
        lg->outstanding -= c->fifo_len;
        c->fifo_len = 0;
        c->dead = true;
        (void) epoll_ctl(lg->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        (void) close(c->fd);
        c->fd = -1;
}

static int conn_connect(Loadgen *lg, Conn *c) {
        struct sockaddr_in sa = {
                .sin_family = AF_INET,
                .sin_port = htons(lg->opt.port),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
        int one = 1;

        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return -errno;
        /* A blocking connect keeps start-up simple; the socket turns non-blocking afterwards. */
        if (connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        int fl = fcntl(c->fd, F_GETFL);
        if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(lg->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
                return -errno;
        return 0;
}

static void conn_set_want_write(Loadgen *lg, Conn *c, bool want) {
        if (c->dead || c->want_write == want)
                return;
        struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
        if (epoll_ctl(lg->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
                conn_fail(lg, c, "epoll_ctl", errno);
                return;
        }
        c->want_write = want;
}

/* Writes as much queued output as the socket takes. */
static void conn_flush(Loadgen *lg, Conn *c) {
        while (!c->dead && c->out_len > 0) {
                ssize_t n = send(c->fd, c->out + c->out_start, c->out_len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        conn_fail(lg, c, "write", errno);
                        return;
                }
                c->out_start += (size_t) n;
                c->out_len -= (size_t) n;
        }
        if (c->out_len == 0)
                c->out_start = 0;
        conn_set_want_write(lg, c, c->out_len > 0);
}

static int conn_queue(Conn *c, const char *data, size_t len) {
        if (c->out_start > 0 && c->out_start + c->out_len + len > c->out_cap) {
                memmove(c->out, c->out + c->out_start, c->out_len);
                c->out_start = 0;
        }
        void *p = c->out;
        if (grow(&p, &c->out_cap, c->out_start + c->out_len + len, 1) < 0)
                return -ENOMEM;
        c->out = p;
        memcpy(c->out + c->out_start + c->out_len, data, len);
        c->out_len += len;
        return 0;
}

/* Picks the next live connection, round-robin; NULL if all have failed. */
static Conn *pick_conn(Loadgen *lg) {
        for (unsigned i = 0; i < lg->opt.connections; i++) {
                Conn *c = &lg->conns[lg->next_conn];
                lg->next_conn = (lg->next_conn + 1) % lg->opt.connections;
                if (!c->dead)
                        return c;
        }
        return NULL;
}

/* Queues one request on conn (not yet written): a set of key_index, or a get of key_index and,
 * with --keys-per-get, further random keys. */
static int issue(Loadgen *lg, Conn *c, RequestKind kind, unsigned key_index, uint64_t intended_ns) {
        char keys[MC_KEYS_MAX][32];
        const char *key_ptrs[MC_KEYS_MAX];
        unsigned n_keys = kind == REQUEST_SET ? 1 : lg->opt.keys_per_get;
        int n;

        for (unsigned i = 0; i < n_keys; i++) {
                unsigned k = i == 0 ? key_index : (unsigned) (rng_next(lg->rng) % lg->opt.keys);
                (void) snprintf(keys[i], sizeof(keys[i]), KEY_PREFIX "%u", k);
                key_ptrs[i] = keys[i];
        }
        if (kind == REQUEST_SET)
                n = mc_format_set(lg->request, lg->request_size, keys[0], lg->value, lg->opt.value_size);
        else
                n = mc_format_get(lg->request, lg->request_size, key_ptrs, n_keys);
        if (n < 0)
                return n;
        if (conn_queue(c, lg->request, (size_t) n) < 0 || fifo_push(c, intended_ns, kind) < 0)
                return -ENOMEM;
        lg->outstanding++;
        return 0;
}

static void on_reply(Loadgen *lg, Conn *c, McReplyKind kind, uint64_t t_ns) {
        Pending p = fifo_pop(c);
        lg->outstanding--;
        if (!lg->measuring)
                return;
        Stats *s = &lg->stats;
        switch (kind) {
        case MC_REPLY_HIT:
                s->hits++;
                break;
        case MC_REPLY_MISS:
                s->misses++;
                break;
        case MC_REPLY_NOT_STORED:
                s->not_stored++;
                break;
        case MC_REPLY_ERROR:
                s->server_errors++;
                return;                 /* an error is not a latency sample */
        default:
                break;
        }
        s->completed++;
        latency_histogram_record(&s->latency, t_ns > p.intended_ns ? t_ns - p.intended_ns : 0);
}

static bool reply_matches(RequestKind req, McReplyKind reply) {
        if (reply == MC_REPLY_ERROR)
                return true;
        if (req == REQUEST_GET)
                return reply == MC_REPLY_HIT || reply == MC_REPLY_MISS;
        return reply == MC_REPLY_STORED || reply == MC_REPLY_NOT_STORED;
}

static void conn_read(Loadgen *lg, Conn *c) {
        for (;;) {
                if (c->in_cap - c->in_len < 4096) {
                        void *p = c->in;
                        if (grow(&p, &c->in_cap, c->in_len + 65536, 1) < 0) {
                                conn_fail(lg, c, "out of memory", 0);
                                return;
                        }
                        c->in = p;
                }
                ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                conn_fail(lg, c, "read", errno);
                        return;
                }
                if (n == 0) {
                        conn_fail(lg, c, "server closed the connection", 0);
                        return;
                }
                /* One clock read per read(): every reply in this chunk completed by now. */
                uint64_t t = now_ns();
                c->in_len += (size_t) n;
                size_t off = 0;
                while (off < c->in_len) {
                        McReplyKind kind;
                        int used = mc_parse_reply(c->in + off, c->in_len - off, &kind);
                        if (used == 0)
                                break;
                        if (used < 0 || c->fifo_len == 0 || !reply_matches(c->fifo[c->fifo_head].kind, kind)) {
                                conn_fail(lg, c, used < 0 ? "malformed reply" : "unexpected reply", 0);
                                return;
                        }
                        on_reply(lg, c, kind, t);
                        off += (size_t) used;
                }
                memmove(c->in, c->in + off, c->in_len - off);
                c->in_len -= off;
                if ((size_t) n < 4096)
                        return;         /* probably drained; epoll tells us when there is more */
        }
}

/* Waits for events until deadline_ns (absolute, CLOCK_MONOTONIC) and handles them. epoll_pwait2()
 * takes a nanosecond timeout, so no timer fd is needed between arrivals. */
static int poll_once(Loadgen *lg, uint64_t deadline_ns) {
        struct epoll_event evs[64];
        uint64_t now = now_ns();
        uint64_t wait = deadline_ns > now ? deadline_ns - now : 0;
        struct timespec timeout = { .tv_sec = (time_t) (wait / NSEC_PER_SEC_LG), .tv_nsec = (long) (wait % NSEC_PER_SEC_LG) };
        int n = epoll_pwait2(lg->epfd, evs, (int) (sizeof(evs) / sizeof(evs[0])), &timeout, NULL);
        if (n < 0)
                return errno == EINTR ? 0 : -errno;
        for (int i = 0; i < n; i++) {
                Conn *c = evs[i].data.ptr;
                if (c->dead)
                        continue;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                        conn_read(lg, c);
                if (!c->dead && (evs[i].events & EPOLLOUT))
                        conn_flush(lg, c);
        }
        return 0;
}

static bool all_dead(const Loadgen *lg) {
        for (unsigned i = 0; i < lg->opt.connections; i++)
                if (!lg->conns[i].dead)
                        return false;
        return true;
}

/* Stores every key once, WARMUP_BATCH at a time, so the measured gets hit. */
static int warm_up(Loadgen *lg) {
        uint64_t deadline = now_ns() + 30 * NSEC_PER_SEC_LG;
        for (unsigned k = 0; k < lg->opt.keys;) {
                for (unsigned b = 0; b < WARMUP_BATCH && k < lg->opt.keys; b++, k++) {
                        Conn *c = pick_conn(lg);
                        if (!c)
                                return -ECONNRESET;
                        int r = issue(lg, c, REQUEST_SET, k, now_ns());
                        if (r < 0)
                                return r;
                }
                for (unsigned i = 0; i < lg->opt.connections; i++)
                        conn_flush(lg, &lg->conns[i]);
                while (lg->outstanding > 0) {
                        if (all_dead(lg))
                                return -ECONNRESET;
                        if (now_ns() > deadline)
                                return -ETIMEDOUT;
                        int r = poll_once(lg, deadline);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static double cpu_seconds_self(void) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return 0.0;
        return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
}

/* The measured, open-loop phase: arrivals during duration, then up to drain for the last replies. */
static int run_open_loop(Loadgen *lg) {
        uint64_t duration_ns = (uint64_t) (lg->opt.duration_sec * 1e9);
        uint64_t drain_ns = (uint64_t) (lg->opt.drain_sec * 1e9);
        uint64_t start = now_ns() + 1000000;           /* the schedule starts 1 ms from now */
        uint64_t end = start + duration_ns;
        uint64_t next = start + next_interarrival_ns(lg);

        lg->measuring = true;
        for (;;) {
                uint64_t now = now_ns();
                bool queued = false;
                while (next <= now && next < end) {
                        Conn *c = lg->outstanding < lg->opt.max_outstanding ? pick_conn(lg) : NULL;
                        if (!c) {
                                lg->stats.dropped++;
                        } else {
                                bool set = lg->opt.set_ratio > 0 && rng_unit(lg->rng) <= lg->opt.set_ratio;
                                unsigned key = (unsigned) (rng_next(lg->rng) % lg->opt.keys);
                                int r = issue(lg, c, set ? REQUEST_SET : REQUEST_GET, key, next);
                                if (r < 0)
                                        return r;
                                lg->stats.sent++;
                                latency_histogram_record(&lg->stats.send_lag, now - next);
                                queued = true;
                        }
                        next += next_interarrival_ns(lg);
                }
                if (queued)
                        for (unsigned i = 0; i < lg->opt.connections; i++)
                                if (lg->conns[i].out_len > 0 && !lg->conns[i].want_write)
                                        conn_flush(lg, &lg->conns[i]);
                if (next >= end && lg->outstanding == 0)
                        break;
                if (now >= end + drain_ns || all_dead(lg))
                        break;
                int r = poll_once(lg, next < end ? next : end + drain_ns);
                if (r < 0)
                        return r;
        }
        /* Whatever is still unanswered after the drain period counts as lost. */
        lg->stats.conn_failed += lg->outstanding;
        return 0;
}

static void print_text(const Loadgen *lg, double elapsed, double cpu) {
        const Stats *s = &lg->stats;
        const LatencyHistogram *h = &s->latency;
        printf("target rate     %.0f req/s over %.1f s, %u connections, %.0f%% sets, %u keys per get\n",
               lg->opt.rate, lg->opt.duration_sec, lg->opt.connections, lg->opt.set_ratio * 100, lg->opt.keys_per_get);
        printf("achieved rate   %.0f req/s (%" PRIu64 " completed of %" PRIu64 " sent)\n", s->completed / elapsed,
               s->completed, s->sent);
        printf("errors          %" PRIu64 " (server %" PRIu64 ", lost %" PRIu64 ", dropped %" PRIu64 "), misses %" PRIu64
               "\n", s->server_errors + s->conn_failed + s->dropped, s->server_errors, s->conn_failed, s->dropped,
               s->misses);
        printf("latency (us)    p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
               latency_histogram_quantile(h, 0.50) / 1e3, latency_histogram_quantile(h, 0.90) / 1e3,
               latency_histogram_quantile(h, 0.99) / 1e3, latency_histogram_quantile(h, 0.999) / 1e3,
               h->max / 1e3, latency_histogram_mean(h) / 1e3);
        printf("send lag (us)   p99 %.1f  max %.1f   (how late requests left the generator)\n",
               latency_histogram_quantile(&s->send_lag, 0.99) / 1e3, s->send_lag.max / 1e3);
        printf("generator cpu   %.2f s (%.1f%% of one core)\n", cpu, cpu / elapsed * 100);
}

static void print_json(const Loadgen *lg, double elapsed, double cpu) {
        const Stats *s = &lg->stats;
        const LatencyHistogram *h = &s->latency;
        printf("{\"target_rate\": %.1f, \"duration_s\": %.3f, \"connections\": %u, \"set_ratio\": %.3f, "
               "\"keys_per_get\": %u,\n", lg->opt.rate, elapsed, lg->opt.connections, lg->opt.set_ratio,
               lg->opt.keys_per_get);
        printf(" \"achieved_rate\": %.1f, \"sent\": %" PRIu64 ", \"completed\": %" PRIu64 ",\n", s->completed / elapsed,
               s->sent, s->completed);
        printf(" \"errors\": %" PRIu64 ", \"server_errors\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"dropped\": %" PRIu64
               ", \"misses\": %" PRIu64 ",\n", s->server_errors + s->conn_failed + s->dropped, s->server_errors,
               s->conn_failed, s->dropped, s->misses);
        printf(" \"latency_us\": {\"p50\": %.2f, \"p90\": %.2f, \"p99\": %.2f, \"p999\": %.2f, \"max\": %.2f, "
               "\"mean\": %.2f},\n", latency_histogram_quantile(h, 0.50) / 1e3,
               latency_histogram_quantile(h, 0.90) / 1e3, latency_histogram_quantile(h, 0.99) / 1e3,
               latency_histogram_quantile(h, 0.999) / 1e3, h->max / 1e3, latency_histogram_mean(h) / 1e3);
        printf(" \"send_lag_us\": {\"p99\": %.2f, \"max\": %.2f},\n",
               latency_histogram_quantile(&s->send_lag, 0.99) / 1e3, s->send_lag.max / 1e3);
        printf(" \"cpu_seconds\": %.3f}\n", cpu);
}

static void help(void) {
        printf("Usage: colo-loadgen --port PORT --rate REQ_PER_SEC [OPTIONS]\n"
               "Open-loop memcached load generator (Poisson arrivals; latency from the intended send time).\n\n"
               "  --host ADDR          server address; only 127.0.0.1 is accepted (default)\n"
               "  --port PORT          server TCP port (required)\n"
               "  --rate R             mean request rate, requests/s (required)\n"
               "  --duration SEC       measured duration (default 10, at most 3600)\n"
               "  --connections N      connections, requests spread round-robin (default 4)\n"
               "  --keys K             key space; every key is stored before measuring (default 10000)\n"
               "  --keys-per-get N     keys asked for in one get request, at most 100 (default 1)\n"
               "  --value-size BYTES   value size (default 64)\n"
               "  --set-ratio F        fraction of sets, the rest are gets (default 0.1)\n"
               "  --no-warmup          do not store the keys first\n"
               "  --drain SEC          wait this long for outstanding replies at the end (default 1)\n"
               "  --max-outstanding N  drop (and count) arrivals beyond N unanswered (default 1000000)\n"
               "  --seed N             random seed (default 1)\n"
               "  --json               print one JSON object instead of text\n");
}

static int parse_double(const char *s, double lo, double hi, double *ret) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_options(int argc, char **argv, Options *o) {
        enum { OPT_HOST = 256, OPT_PORT, OPT_RATE, OPT_DURATION, OPT_CONNECTIONS, OPT_KEYS, OPT_VALUE_SIZE,
               OPT_SET_RATIO, OPT_KEYS_PER_GET, OPT_NO_WARMUP, OPT_DRAIN, OPT_MAX_OUTSTANDING, OPT_SEED, OPT_JSON, OPT_HELP };
        static const struct option longopts[] = {
                { "host", required_argument, NULL, OPT_HOST },
                { "port", required_argument, NULL, OPT_PORT },
                { "rate", required_argument, NULL, OPT_RATE },
                { "duration", required_argument, NULL, OPT_DURATION },
                { "connections", required_argument, NULL, OPT_CONNECTIONS },
                { "keys", required_argument, NULL, OPT_KEYS },
                { "keys-per-get", required_argument, NULL, OPT_KEYS_PER_GET },
                { "value-size", required_argument, NULL, OPT_VALUE_SIZE },
                { "set-ratio", required_argument, NULL, OPT_SET_RATIO },
                { "no-warmup", no_argument, NULL, OPT_NO_WARMUP },
                { "drain", required_argument, NULL, OPT_DRAIN },
                { "max-outstanding", required_argument, NULL, OPT_MAX_OUTSTANDING },
                { "seed", required_argument, NULL, OPT_SEED },
                { "json", no_argument, NULL, OPT_JSON },
                { "help", no_argument, NULL, OPT_HELP },
                {},
        };
        *o = (Options) {
                .duration_sec = 10, .connections = 4, .keys = 10000, .keys_per_get = 1, .value_size = 64, .set_ratio = 0.1,
                .seed = 1, .drain_sec = 1, .max_outstanding = 1000000, .warmup = true,
        };
        bool have_port = false;
        int c;
        double v;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
                int r = 0;
                switch (c) {
                case OPT_HOST: {
                        struct in_addr a;
                        if (inet_pton(AF_INET, optarg, &a) != 1 || a.s_addr != htonl(INADDR_LOOPBACK)) {
                                fprintf(stderr, "colo-loadgen: --host '%s': only 127.0.0.1 is allowed\n", optarg);
                                return -EINVAL;
                        }
                        break;
                }
                case OPT_PORT:
                        r = parse_double(optarg, 1, 65535, &v);
                        o->port = (uint16_t) v;
                        have_port = r == 0 && v == (double) o->port;
                        break;
                case OPT_RATE:
                        r = parse_double(optarg, 1, 10e6, &o->rate);
                        break;
                case OPT_DURATION:
                        r = parse_double(optarg, 0.1, 3600, &o->duration_sec);
                        break;
                case OPT_CONNECTIONS:
                        r = parse_double(optarg, 1, CONNECTIONS_MAX, &v);
                        o->connections = (unsigned) v;
                        break;
                case OPT_KEYS:
                        r = parse_double(optarg, 1, 10e6, &v);
                        o->keys = (unsigned) v;
                        break;
                case OPT_KEYS_PER_GET:
                        r = parse_double(optarg, 1, MC_KEYS_MAX, &v);
                        o->keys_per_get = (unsigned) v;
                        break;
                case OPT_VALUE_SIZE:
                        r = parse_double(optarg, 0, 1024 * 1024 - 512, &v);
                        o->value_size = (unsigned) v;
                        break;
                case OPT_SET_RATIO:
                        r = parse_double(optarg, 0, 1, &o->set_ratio);
                        break;
                case OPT_NO_WARMUP:
                        o->warmup = false;
                        break;
                case OPT_DRAIN:
                        r = parse_double(optarg, 0, 60, &o->drain_sec);
                        break;
                case OPT_MAX_OUTSTANDING:
                        r = parse_double(optarg, 1, 100e6, &v);
                        o->max_outstanding = (uint64_t) v;
                        break;
                case OPT_SEED:
                        r = parse_double(optarg, 0, 1e15, &v);
                        o->seed = (uint64_t) v;
                        break;
                case OPT_JSON:
                        o->json = true;
                        break;
                case OPT_HELP:
                        help();
                        exit(EXIT_SUCCESS);
                default:
                        return -EINVAL;
                }
                if (r < 0) {
                        fprintf(stderr, "colo-loadgen: invalid value '%s' for an option\n", optarg);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "colo-loadgen: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        if (!have_port || o->rate <= 0) {
                fprintf(stderr, "colo-loadgen: --port and --rate are required (see --help)\n");
                return -EINVAL;
        }
        return 0;
}

static void loadgen_done(Loadgen *lg) {
        for (unsigned i = 0; i < CONNECTIONS_MAX; i++) {
                Conn *c = &lg->conns[i];
                if (c->fd >= 0)
                        (void) close(c->fd);
                free(c->out);
                free(c->in);
                free(c->fifo);
        }
        if (lg->epfd >= 0)
                (void) close(lg->epfd);
        free(lg->value);
        free(lg->request);
        free(lg);
}

int main(int argc, char **argv) {
        Loadgen *lg = calloc(1, sizeof(*lg));
        int r;

        if (!lg)
                return EXIT_FAILURE;
        lg->epfd = -1;
        for (unsigned i = 0; i < CONNECTIONS_MAX; i++)
                lg->conns[i].fd = -1;
        if (parse_options(argc, argv, &lg->opt) < 0) {
                loadgen_done(lg);
                return 2;
        }
        latency_histogram_init(&lg->stats.latency);
        latency_histogram_init(&lg->stats.send_lag);
        uint64_t seed = lg->opt.seed;
        for (unsigned i = 0; i < 4; i++)
                lg->rng[i] = splitmix64(&seed);
        lg->value = malloc(lg->opt.value_size + 1);
        lg->request_size = lg->opt.value_size + 512 + MC_KEYS_MAX * 32;
        lg->request = malloc(lg->request_size);
        if (!lg->value || !lg->request)
                goto fail_errno;
        memset(lg->value, 'v', lg->opt.value_size);

        /* Timeouts are otherwise rounded up by the default 50 us timer slack, which would bunch arrivals. */
        (void) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
        lg->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (lg->epfd < 0)
                goto fail_errno;
        for (unsigned i = 0; i < lg->opt.connections; i++) {
                r = conn_connect(lg, &lg->conns[i]);
                if (r < 0) {
                        fprintf(stderr, "colo-loadgen: connect to 127.0.0.1:%u: %s\n", lg->opt.port, strerror(-r));
                        loadgen_done(lg);
                        return EXIT_FAILURE;
                }
        }
        if (lg->opt.warmup) {
                r = warm_up(lg);
                if (r < 0) {
                        fprintf(stderr, "colo-loadgen: warm-up (storing %u keys) failed: %s\n", lg->opt.keys,
                                strerror(-r));
                        loadgen_done(lg);
                        return EXIT_FAILURE;
                }
        }

        double cpu0 = cpu_seconds_self();
        r = run_open_loop(lg);
        if (r < 0) {
                fprintf(stderr, "colo-loadgen: %s\n", strerror(-r));
                loadgen_done(lg);
                return EXIT_FAILURE;
        }
        double cpu = cpu_seconds_self() - cpu0;
        double elapsed = lg->opt.duration_sec;
        if (lg->opt.json)
                print_json(lg, elapsed, cpu);
        else
                print_text(lg, elapsed, cpu);
        bool failed = all_dead(lg);
        loadgen_done(lg);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;

fail_errno:
        fprintf(stderr, "colo-loadgen: %s\n", strerror(errno));
        loadgen_done(lg);
        return EXIT_FAILURE;
}
