/* Scheduler extender benchmark: the cost of one filter/prioritize decision with N candidate nodes,
 * first as a pure function call (extender_handle()), then over HTTP against a running
 * `colo extender` on 127.0.0.1 with keep-alive connections, as kube-scheduler calls it. Both
 * ways kube-scheduler can send candidates are measured: names only (nodeCacheCapable: true, the
 * extender answers from the node set it loaded with --node-source) and full Node objects
 * (nodeCacheCapable: false). The synthetic nodes look like real ones (labels, conditions,
 * addresses, node info, the colo.io/node-usage annotation), without the image list.
 *
 * Usage: colo-extender-bench --colo BUILD/colo [--nodes 1000] [--seconds 5] [--clients 2]
 *        [--server-threads 2] [--iterations 2000] [--mode names|nodes|both] */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "extender/extender.h"
#include "k8s/node-annotation.h"
#include "latency-histogram.h"
#include "util/fileio.h"

extern char **environ;

typedef struct Options {
        const char *colo;
        unsigned nodes, seconds, clients, server_threads, iterations;
        bool names, full_nodes;
} Options;

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void die(const char *what) {
        fprintf(stderr, "colo-extender-bench: %s\n", what);
        exit(1);
}

/* ---- synthetic cluster ------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void) {             /* xorshift64*: deterministic across runs */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 2685821657736338717u;
}

static json_t *make_node(unsigned i, uint64_t now_usec) {
        char name[32], ip[32], usage[512], ts[32];
        snprintf(name, sizeof(name), "node-%04u", i);
        snprintf(ip, sizeof(ip), "10.0.%u.%u", i / 250, i % 250 + 1);
        rfc3339_format(now_usec, ts, sizeof(ts));
        int64_t cpu = 16000, mem = INT64_C(64) << 30;
        int64_t peak = (int64_t) (rng() % 16000), mem_peak = (int64_t) (rng() % (uint64_t) mem);
        int64_t off_cpu = (cpu - peak) * 8 / 10, off_mem = (mem - mem_peak) * 8 / 10;
        snprintf(usage, sizeof(usage),
                 "{\"cpuCapacityMilli\":%" PRId64 ",\"memCapacity\":%" PRId64 ",\"cpuUsageMilli\":%" PRId64
                 ",\"cpuPeakMilli\":%" PRId64 ",\"memUsage\":%" PRId64 ",\"memPeak\":%" PRId64
                 ",\"offlineCpuMilli\":%" PRId64 ",\"offlineMemory\":%" PRId64 ",\"offlineCpuRequestedMilli\":%" PRId64
                 ",\"offlineMemoryRequested\":%" PRId64 ",\"updated\":\"%s\"}",
                 cpu, mem, peak * 3 / 4, peak, mem_peak * 3 / 4, mem_peak, off_cpu, off_mem, off_cpu / 3, off_mem / 3, ts);
        char off_cpu_s[32], off_mem_s[32];
        snprintf(off_cpu_s, sizeof(off_cpu_s), "%" PRId64, off_cpu);
        snprintf(off_mem_s, sizeof(off_mem_s), "%" PRId64, off_mem);
        return json_pack(
                "{s:{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s}},"
                " s:{s:s, s:[s]},"
                " s:{s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s},"
                "    s:[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}], s:[{s:s, s:s}, {s:s, s:s}],"
                "    s:{s:{s:i}}, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}}",
                "metadata", "name", name, "uid", "6a0a8d5e-2c4b-4b7e-9a55-000000000000", "resourceVersion", "48213",
                "labels", "kubernetes.io/hostname", name, "kubernetes.io/os", "linux", "kubernetes.io/arch", "amd64",
                "topology.kubernetes.io/zone", i % 2 ? "zone-a" : "zone-b", "node.kubernetes.io/instance-type", "m6.4xlarge",
                "annotations", NODE_USAGE_ANNOTATION, usage, "node.alpha.kubernetes.io/ttl", "0",
                "volumes.kubernetes.io/controller-managed-attach-detach", "true",
                "spec", "podCIDR", "10.244.0.0/24", "podCIDRs", "10.244.0.0/24",
                "status", "capacity", "cpu", "16", "memory", "64Gi", "pods", "110", "ephemeral-storage", "203609200Ki",
                NODE_OFFLINE_CPU_RESOURCE, off_cpu_s, NODE_OFFLINE_MEMORY_RESOURCE, off_mem_s,
                "allocatable", "cpu", "15800m", "memory", "63Gi", "pods", "110", "ephemeral-storage", "187645701310",
                NODE_OFFLINE_CPU_RESOURCE, off_cpu_s, NODE_OFFLINE_MEMORY_RESOURCE, off_mem_s,
                "conditions", "type", "MemoryPressure", "status", "False", "reason", "KubeletHasSufficientMemory",
                "lastHeartbeatTime", ts, "lastTransitionTime", "2024-04-01T08:00:00Z",
                "type", "Ready", "status", "True", "reason", "KubeletReady", "lastHeartbeatTime", ts,
                "lastTransitionTime", "2024-04-01T08:00:00Z",
                "addresses", "type", "InternalIP", "address", ip, "type", "Hostname", "address", name,
                "daemonEndpoints", "kubeletEndpoint", "Port", 10250,
                "nodeInfo", "machineID", "ec2d3c4e5f60718293a4b5c6d7e8f901", "systemUUID", "ec2d3c4e-5f60-7182-93a4-b5c6d7e8f901",
                "bootID", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "kernelVersion", "6.1.0-18-amd64", "osImage",
                "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion", "containerd://1.7.13", "kubeletVersion",
                "v1.29.2", "architecture", "amd64");
}

static json_t *make_pod(bool offline) {
        const char *cls = offline ? "offline" : "online";
        json_t *requests = offline ? json_pack("{s:s, s:s}", NODE_OFFLINE_CPU_RESOURCE, "1000", NODE_OFFLINE_MEMORY_RESOURCE,
                                               "2147483648")
                                   : json_pack("{s:s, s:s}", "cpu", "500m", "memory", "1Gi");
        return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}, s:{s:s}},"
                         " s:{s:[{s:s, s:s, s:{s:O, s:O}}], s:s, s:i, s:s}}",
                         "apiVersion", "v1", "kind", "Pod", "metadata", "name", offline ? "train-0" : "api-0", "namespace",
                         "bench", "uid", "1d2c3b4a-0000-4000-8000-000000000001", "labels", "app", "bench", "annotations",
                         "colo.io/class", cls, "spec", "containers", "name", "main", "image", "registry.example.com/app:1",
                         "resources", "requests", requests, "limits", requests, "schedulerName", "default-scheduler",
                         "priority", offline ? -100 : 0, "priorityClassName", offline ? "colo-offline" : "");
}

typedef struct Request {
        const char *label;
        ExtenderVerb verb;
        bool by_name;
        char *body;                     /* JSON */
        size_t body_size;
        char *http;                     /* the whole HTTP/1.1 request */
        size_t http_size;
} Request;

static void build_request(Request *r, const char *label, ExtenderVerb verb, bool by_name, json_t *pod, json_t *nodes,
                          json_t *names) {
        /* As kube-scheduler's encoding/json writes ExtenderArgs: Go field names, the unused list null. */
        json_t *args = by_name ? json_pack("{s:O, s:n, s:O}", "Pod", pod, "Nodes", "NodeNames", names)
                               : json_pack("{s:O, s:{s:{}, s:O}, s:n}", "Pod", pod, "Nodes", "metadata", "items", nodes,
                                           "NodeNames");
        r->label = label;
        r->verb = verb;
        r->by_name = by_name;
        r->body = json_dumps(args, JSON_COMPACT);
        json_decref(args);
        if (!r->body)
                die("out of memory");
        r->body_size = strlen(r->body);
        char head[256];
        int n = snprintf(head, sizeof(head),
                         "POST /%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         verb == EXTENDER_FILTER ? "filter" : "prioritize", r->body_size);
        r->http = malloc((size_t) n + r->body_size);
        memcpy(r->http, head, (size_t) n);
        memcpy(r->http + n, r->body, r->body_size);
        r->http_size = (size_t) n + r->body_size;
}

/* ---- pure function timing --------------------------------------------------------------------- */

static void print_histogram_row(const char *label, const LatencyHistogram *h, size_t bytes) {
        printf("  %-34s %8.1f %8.1f %8.1f %9.1f   %7.1f KiB\n", label, latency_histogram_quantile(h, 0.50) / 1e3,
               latency_histogram_quantile(h, 0.99) / 1e3, latency_histogram_quantile(h, 0.999) / 1e3,
               latency_histogram_mean(h) / 1e3, (double) bytes / 1024);
}

static void bench_pure(const Options *o, Request *reqs, size_t n, const ExtenderNodeSet *set) {
        printf("Pure extender_handle() (request parsing, decision, response writing), %u iterations each:\n",
               o->iterations);
        printf("  %-34s %8s %8s %8s %9s   %s\n", "request", "p50 us", "p99 us", "p99.9 us", "mean us", "body");
        ExtenderConfig cfg = EXTENDER_CONFIG_DEFAULT;
        LatencyHistogram *h = malloc(sizeof(*h));
        for (size_t i = 0; i < n; i++) {
                latency_histogram_init(h);
                for (unsigned k = 0; k < o->iterations; k++) {
                        char *out = NULL;
                        size_t out_size;
                        ColoError err = {};
                        uint64_t t0 = now_ns();
                        if (extender_handle(&cfg, reqs[i].verb, set, reqs[i].body, reqs[i].body_size,
                                            now_realtime_usec(), &out, &out_size, NULL, &err) < 0)
                                die(err.msg);
                        latency_histogram_record(h, now_ns() - t0);
                        free(out);
                }
                print_histogram_row(reqs[i].label, h, reqs[i].body_size);
        }
        free(h);
}

/* ---- HTTP load -------------------------------------------------------------------------------- */

static int connect_local(uint16_t port) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int one = 1;
        if (fd < 0 || connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

/* Sends one request and reads its whole response (Content-Length framed). Returns the HTTP status
 * or -1 on a connection error. buf is scratch space, grown as needed. */
static int roundtrip(int fd, const Request *r, char **buf, size_t *cap) {
        for (size_t off = 0; off < r->http_size;) {
                ssize_t w = write(fd, r->http + off, r->http_size - off);
                if (w <= 0)
                        return -1;
                off += (size_t) w;
        }
        size_t have = 0, header_end = 0, content_length = 0;
        for (;;) {
                if (have == *cap) {
                        *cap *= 2;
                        *buf = realloc(*buf, *cap + 1);
                }
                ssize_t n = read(fd, *buf + have, *cap - have);
                if (n <= 0)
                        return -1;
                have += (size_t) n;
                (*buf)[have] = '\0';
                if (!header_end) {
                        char *end = strstr(*buf, "\r\n\r\n");
                        if (!end)
                                continue;
                        header_end = (size_t) (end - *buf) + 4;
                        char *cl = strcasestr(*buf, "\r\nContent-Length:");
                        if (!cl || cl > end)
                                return -1;
                        content_length = strtoull(cl + 17, NULL, 10);
                }
                if (have >= header_end + content_length)
                        break;
        }
        return atoi(*buf + 9);
}

typedef struct Client {
        pthread_t thread;
        uint16_t port;
        const Request *reqs;
        size_t n_reqs;
        unsigned id;
        volatile bool *stop;
        LatencyHistogram hist;
        uint64_t done, errors;
} Client;

static void *client_main(void *userdata) {
        Client *c = userdata;
        int fd = connect_local(c->port);
        size_t cap = 1 << 16;
        char *buf = malloc(cap + 1);
        for (uint64_t k = c->id; fd >= 0 && !*c->stop; k++) {
                const Request *r = &c->reqs[k % c->n_reqs];
                uint64_t t0 = now_ns();
                int status = roundtrip(fd, r, &buf, &cap);
                uint64_t dt = now_ns() - t0;
                if (status != 200) {
                        c->errors++;
                        close(fd);
                        fd = connect_local(c->port);
                        continue;
                }
                latency_histogram_record(&c->hist, dt);
                c->done++;
        }
        if (fd >= 0)
                close(fd);
        free(buf);
        return NULL;
}

static void bench_http(const Options *o, uint16_t port, const char *title, const Request *reqs, size_t n) {
        volatile bool stop = false;
        Client *clients = calloc(o->clients, sizeof(Client));
        for (unsigned i = 0; i < o->clients; i++) {
                clients[i] = (Client) { .port = port, .reqs = reqs, .n_reqs = n, .id = i, .stop = &stop };
                latency_histogram_init(&clients[i].hist);
        }
        uint64_t t0 = now_ns();
        for (unsigned i = 0; i < o->clients; i++)
                pthread_create(&clients[i].thread, NULL, client_main, &clients[i]);
        struct timespec d = { o->seconds, 0 };
        nanosleep(&d, NULL);
        stop = true;
        LatencyHistogram *all = malloc(sizeof(*all));
        latency_histogram_init(all);
        uint64_t done = 0, errors = 0;
        for (unsigned i = 0; i < o->clients; i++) {
                pthread_join(clients[i].thread, NULL);
                for (unsigned b = 0; b < LATENCY_BUCKETS; b++)
                        all->counts[b] += clients[i].hist.counts[b];
                all->total += clients[i].hist.total;
                all->sum += clients[i].hist.sum;
                all->min = MIN(all->min, clients[i].hist.min);
                all->max = MAX(all->max, clients[i].hist.max);
                done += clients[i].done;
                errors += clients[i].errors;
        }
        double secs = (double) (now_ns() - t0) / 1e9;
        printf("  %-34s %8.0f %8.1f %8.1f %8.1f %8.1f %7" PRIu64 "\n", title, (double) done / secs,
               latency_histogram_quantile(all, 0.50) / 1e3, latency_histogram_quantile(all, 0.99) / 1e3,
               latency_histogram_quantile(all, 0.999) / 1e3, (double) all->max / 1e3, errors);
        free(all);
        free(clients);
}

static uint16_t free_port(void) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                die("no free port");
        close(fd);
        return ntohs(a.sin_port);
}

static pid_t start_extender(const Options *o, const char *nodes_file, uint16_t port) {
        char listen[32], source[512], threads[16];
        snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
        snprintf(source, sizeof(source), "file:%s", nodes_file);
        snprintf(threads, sizeof(threads), "%u", o->server_threads);
        char *argv[] = { (char *) o->colo, "extender", "--listen", listen, "--node-source", source, "--threads", threads,
                         NULL };
        pid_t pid;
        if (posix_spawn(&pid, o->colo, NULL, NULL, argv, environ) != 0)
                die("cannot start colo extender");
        for (int i = 0; i < 200; i++) {
                int fd = connect_local(port);
                if (fd >= 0) {
                        close(fd);
                        return pid;
                }
                struct timespec ts = { 0, 50 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
        die("colo extender did not start");
        return -1;
}

int main(int argc, char **argv) {
        Options o = { .nodes = 1000, .seconds = 5, .clients = 2, .server_threads = 2, .iterations = 2000, .names = true,
                      .full_nodes = true };
        static const struct option options[] = {
                { "colo", required_argument, NULL, 'c' },     { "nodes", required_argument, NULL, 'n' },
                { "seconds", required_argument, NULL, 's' },  { "clients", required_argument, NULL, 'C' },
                { "server-threads", required_argument, NULL, 't' }, { "iterations", required_argument, NULL, 'i' },
                { "mode", required_argument, NULL, 'm' },     {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'c': o.colo = optarg; break;
                case 'n': o.nodes = (unsigned) atoi(optarg); break;
                case 's': o.seconds = (unsigned) atoi(optarg); break;
                case 'C': o.clients = (unsigned) atoi(optarg); break;
                case 't': o.server_threads = (unsigned) atoi(optarg); break;
                case 'i': o.iterations = (unsigned) atoi(optarg); break;
                case 'm':
                        o.names = strcmp(optarg, "nodes") != 0;
                        o.full_nodes = strcmp(optarg, "names") != 0;
                        break;
                default:
                        fprintf(stderr, "usage: %s --colo PATH [--nodes N] [--seconds S] [--clients N] "
                                        "[--server-threads N] [--iterations N] [--mode names|nodes|both]\n", argv[0]);
                        return 2;
                }
        }
        if (o.nodes == 0 || o.clients == 0 || o.iterations == 0)
                die("--nodes, --clients and --iterations must be positive");
        signal(SIGPIPE, SIG_IGN);

        uint64_t now = now_realtime_usec();
        json_t *nodes = json_array(), *names = json_array();
        for (unsigned i = 0; i < o.nodes; i++) {
                json_t *n = make_node(i, now);
                if (!n)
                        die("cannot build a node");
                json_array_append(names, json_object_get(json_object_get(n, "metadata"), "name"));
                json_array_append_new(nodes, n);
        }
        char dir[] = "/tmp/colo-bench-extender-XXXXXX", nodes_file[128];
        if (!mkdtemp(dir))
                die("mkdtemp");
        snprintf(nodes_file, sizeof(nodes_file), "%s/nodes.json", dir);
        json_t *list = json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "NodeList", "items", nodes);
        if (json_dump_file(list, nodes_file, JSON_COMPACT) < 0)
                die("cannot write the node list");
        ExtenderNodeSet *set = NULL;
        ColoError err = {};
        char *list_text = json_dumps(list, JSON_COMPACT);
        if (!list_text || extender_node_set_parse(list_text, strlen(list_text), &set, &err) < 0)
                die(err.msg);
        free(list_text);
        json_decref(list);

        json_t *online = make_pod(false), *offline = make_pod(true);
        Request names_reqs[4] = {}, node_reqs[4] = {};
        build_request(&names_reqs[0], "filter, online, names", EXTENDER_FILTER, true, online, nodes, names);
        build_request(&names_reqs[1], "prioritize, online, names", EXTENDER_PRIORITIZE, true, online, nodes, names);
        build_request(&names_reqs[2], "filter, offline, names", EXTENDER_FILTER, true, offline, nodes, names);
        build_request(&names_reqs[3], "prioritize, offline, names", EXTENDER_PRIORITIZE, true, offline, nodes, names);
        build_request(&node_reqs[0], "filter, online, full nodes", EXTENDER_FILTER, false, online, nodes, names);
        build_request(&node_reqs[1], "prioritize, online, full nodes", EXTENDER_PRIORITIZE, false, online, nodes, names);
        build_request(&node_reqs[2], "filter, offline, full nodes", EXTENDER_FILTER, false, offline, nodes, names);
        build_request(&node_reqs[3], "prioritize, offline, full nodes", EXTENDER_PRIORITIZE, false, offline, nodes, names);

        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        double load[3] = {};
        (void) getloadavg(load, 3);
        printf("colo extender benchmark: %u candidate nodes, %ld CPUs, load average %.2f %.2f %.2f\n\n", o.nodes, cpus,
               load[0], load[1], load[2]);
        if (o.names)
                bench_pure(&o, names_reqs, 4, set);
        if (o.full_nodes)
                bench_pure(&o, node_reqs, 4, NULL);

        if (o.colo) {
                uint16_t port = free_port();
                pid_t pid = start_extender(&o, nodes_file, port);
                printf("\nHTTP against colo extender --threads %u on 127.0.0.1, %u keep-alive clients, %u s per row,\n"
                       "requests cycling through filter/prioritize x online/offline:\n", o.server_threads, o.clients,
                       o.seconds);
                printf("  %-34s %8s %8s %8s %8s %8s %7s\n", "candidates sent as", "req/s", "p50 us", "p99 us", "p99.9 us",
                       "max us", "errors");
                if (o.names)
                        bench_http(&o, port, "names (nodeCacheCapable: true)", names_reqs, 4);
                if (o.full_nodes)
                        bench_http(&o, port, "full Nodes (nodeCacheCapable: false)", node_reqs, 4);
                kill(pid, SIGTERM);
                waitpid(pid, NULL, 0);
        } else
                printf("\n(no --colo: HTTP part skipped)\n");

        unlink(nodes_file);
        rmdir(dir);
        extender_node_set_unref(set);
        for (int i = 0; i < 4; i++) {
                free(names_reqs[i].body);
                free(names_reqs[i].http);
                free(node_reqs[i].body);
                free(node_reqs[i].http);
        }
        json_decref(online);
        json_decref(offline);
        json_decref(nodes);
        json_decref(names);
        return 0;
}
