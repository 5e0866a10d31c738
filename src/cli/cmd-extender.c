/* colo extender: serves the kube-scheduler extender (POST /filter, POST /prioritize, GET /healthz)
 * over HTTP or HTTPS. Decisions are extender_handle() in src/lib/extender. With --node-source, a
 * refresher thread keeps a node set for kube-scheduler's nodeCacheCapable mode, where only node
 * names are sent; without it, kube-scheduler must send full Nodes (nodeCacheCapable: false). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/server-cli.h"
#include "kube/curl-dl.h"
#include "extender/extender-node-source.h"
#include "extender/extender.h"
#include "httpd/https-server.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

typedef struct Extender {
        ExtenderConfig cfg;
        ExtenderNodeCache *cache;
        /* node source */
        const char *node_file;
        bool in_cluster;
        KubeConfig *kube;               /* the in-cluster API server, for the node source */
        unsigned refresh_sec;
        struct timespec file_mtime;
        /* refresher thread */
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool stopping;
} Extender;

/* Two of the largest requests at once, one per default thread: with parsing (streamed) the
 * extender stays inside the 512 MiB limit of deploy/kubernetes/50-extender.yaml. */
#define EXTENDER_MAX_IN_FLIGHT (128u << 20)

static void extender_usage(FILE *f) {
        fprintf(f, "Usage: colo extender [OPTIONS]\n\n"
                   "Serves the kube-scheduler extender: load-aware filtering of online pods on the nodes'\n"
                   "predicted peaks, and scoring of offline pods by oversold headroom.\n"
                   "Endpoints: POST /filter, POST /prioritize, GET /healthz.\n\n"
                   "  -l, --listen ADDR:PORT       address to listen on (default 0.0.0.0:8888)\n"
                   "      --tls-cert FILE          PEM certificate: serve HTTPS (enableHTTPS: true)\n"
                   "      --tls-key FILE           PEM private key\n"
                   "      --max-body BYTES         largest ExtenderArgs accepted (default %u)\n"
                   "      --max-in-flight BYTES    memory all request bodies being received may hold\n"
                   "                               together; past it requests get 503 (default %u)\n"
                   "      --max-connections N      open connections at most (default %u)\n"
                   "      --max-connections-per-ip N\n"
                   "                               open connections per client address (default %u)\n"
                   "      --timeout SEC            idle connection timeout (default 30)\n"
                   "      --threads N              request threads (default 2)\n"
                   "      --cpu-threshold F        online pods: reject a node when predicted CPU peak plus the\n"
                   "                               request exceeds F x allocatable (default 0.80)\n"
                   "      --memory-threshold F     the same for memory (default 0.90)\n"
                   "      --stale-after SEC        colo.io/node-usage older than this counts as missing\n"
                   "                               (default 600)\n"
                   "      --node-source SOURCE     node data for nodeCacheCapable: true: 'in-cluster' (LIST\n"
                   "                               /api/v1/nodes with the pod's service account) or\n"
                   "                               'file:PATH' (a NodeList JSON file); default none\n"
                   "      --node-refresh SEC       how often to reload the node source (default 10)\n",
                EXTENDER_REQUEST_MAX_SIZE_DEFAULT, EXTENDER_MAX_IN_FLIGHT, SERVER_MAX_CONNECTIONS_DEFAULT,
                SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT);
}

static void handle(const HttpRequest *req, HttpReply *reply, void *userdata) {
        Extender *x = userdata;
        if (server_reply_health(req, reply))
                return;
        ExtenderVerb verb = strcmp(req->path, "/filter") == 0       ? EXTENDER_FILTER
                            : strcmp(req->path, "/prioritize") == 0 ? EXTENDER_PRIORITIZE
                                                                    : _EXTENDER_VERB_INVALID;
        if (verb < 0)
                return http_reply_error(reply, 404, "unknown path; the extender serves POST /filter and /prioritize");
        if (strcmp(req->method, "POST") != 0)
                return http_reply_error(reply, 405, "use POST");

        _cleanup_(extender_node_set_unrefp) ExtenderNodeSet *nodes = x->cache ? extender_node_cache_acquire(x->cache)
                                                                             : NULL;
        ColoError err = {};
        ExtenderStats stats = {};
        int r = extender_handle(&x->cfg, verb, nodes, req->body, req->body_size, now_realtime_usec(), &reply->body,
                                &reply->body_size, &stats, &err);
        if (r < 0) {
                log_warning("Bad ExtenderArgs on %s: %s", req->path, err.msg);
                reply->body = extender_error_body(err.msg, &reply->body_size);
                reply->status = r == -ENOMEM ? 500 : r == -EMSGSIZE ? 413 : 400;
                return;
        }
        if (verb == EXTENDER_FILTER)
                log_debug("Filter for %s pod '%s': %zu of %zu nodes pass, %zu without colo data",
                          stats.offline ? "offline" : "online", stats.pod, stats.passed, stats.candidates,
                          stats.without_data);
        else
                log_debug("Prioritize for %s pod '%s': %zu nodes, %zu without colo data",
                          stats.offline ? "offline" : "online", stats.pod, stats.candidates, stats.without_data);
}

/* Loads the node source once. Returns 0 (also when a file is unchanged) or -errno, logged. */
static int refresh_nodes(Extender *x) {
        ColoError err = {};
        _cleanup_(extender_node_set_unrefp) ExtenderNodeSet *set = NULL;
        int r;
        if (x->node_file) {
                struct stat st;
                if (stat(x->node_file, &st) < 0) {
                        log_warning("Cannot stat node file '%s': %m, keeping the previous node set.", x->node_file);
                        return -errno;
                }
                if (st.st_mtim.tv_sec == x->file_mtime.tv_sec && st.st_mtim.tv_nsec == x->file_mtime.tv_nsec)
                        return 0;
                r = extender_nodes_load_file(x->node_file, &set, &err);
                if (r >= 0)
                        x->file_mtime = st.st_mtim;
        } else
                r = extender_nodes_list_api(x->kube, 30, &set, &err);
        if (r < 0) {
                log_warning("Cannot refresh nodes: %s, keeping the previous node set.", err.msg);
                return r;
        }
        log_debug("Loaded %zu nodes.", extender_node_set_size(set));
        extender_node_cache_replace(x->cache, set);
        return 0;
}

static void *refresher(void *userdata) {
        Extender *x = userdata;
        pthread_mutex_lock(&x->lock);
        while (!x->stopping) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += x->refresh_sec;
                while (!x->stopping && pthread_cond_timedwait(&x->wake, &x->lock, &until) == 0)
                        ;
                if (x->stopping)
                        break;
                pthread_mutex_unlock(&x->lock);
                (void) refresh_nodes(x);
                pthread_mutex_lock(&x->lock);
        }
        pthread_mutex_unlock(&x->lock);
        return NULL;
}

static int parse_fraction(const char *s, double *ret) {
        double d;
        if (parse_double(s, &d) < 0 || !(d > 0.0 && d <= 1.0))
                return -EINVAL;
        *ret = d;
        return 0;
}

enum { OPT_CPU = _SERVER_OPT_MAX, OPT_MEMORY, OPT_STALE, OPT_SOURCE, OPT_REFRESH };
static const struct option extender_options[] = {
        SERVER_LONG_OPTIONS,
        { "cpu-threshold", required_argument, NULL, OPT_CPU },
        { "memory-threshold", required_argument, NULL, OPT_MEMORY },
        { "stale-after", required_argument, NULL, OPT_STALE },
        { "node-source", required_argument, NULL, OPT_SOURCE },
        { "node-refresh", required_argument, NULL, OPT_REFRESH },
        { "help", no_argument, NULL, 'h' },
        {},
};

/* One of the extender's own options (not a shared server option). -EINVAL for a bad value. */
static int parse_extender_option(Extender *x, int c, const char *arg, const char **source) {
        uint64_t v;
        switch (c) {
        case OPT_CPU:
                return parse_fraction(arg, &x->cfg.cpu_threshold);
        case OPT_MEMORY:
                return parse_fraction(arg, &x->cfg.memory_threshold);
        case OPT_STALE:
                if (parse_u64(arg, &v) < 0 || v < 1 || v > 7 * 86400)
                        return -EINVAL;
                x->cfg.stale_after_usec = v * USEC_PER_SEC;
                return 0;
        case OPT_SOURCE:
                if (strcmp(arg, "in-cluster") != 0 && strncmp(arg, "file:", 5) != 0 && strcmp(arg, "none") != 0)
                        return -EINVAL;
                *source = arg;
                return 0;
        case OPT_REFRESH:
                if (parse_u64(arg, &v) < 0 || v < 1 || v > 3600)
                        return -EINVAL;
                x->refresh_sec = (unsigned) v;
                return 0;
        }
        return -EINVAL;
}

/* The command line into x, o and *source. Returns -1 to go on, else the exit status (0 after
 * --help, 2 on a usage error, printed). */
static int parse_args(int argc, char **argv, Extender *x, ServerOptions *o, const char **source) {
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "l:h", extender_options, NULL)) >= 0) {
                int r = server_options_parse(o, c, optarg);
                if (r > 0)
                        continue;
                if (r == 0 && c == 'h')
                        return extender_usage(stdout), 0;
                if (r == 0 && (c < OPT_CPU || c > OPT_REFRESH))
                        return extender_usage(stderr), 2;
                if (r < 0 || parse_extender_option(x, c, optarg, source) < 0) {
                        cli_report_invalid_value("extender", extender_options, c, optarg);
                        return 2;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "colo extender: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (!o->http.cert_file != !o->http.key_file) {
                fprintf(stderr, "colo extender: --tls-cert and --tls-key go together\n");
                return 2;
        }
        if (server_options_finish(o, "extender") < 0)
                return 2;
        x->cfg.max_request_size = o->http.max_body_size;
        return -1;
}

/* The node cache and its first load, for --node-source file:PATH or in-cluster. -1 when it
 * cannot be set up (logged); a first load that fails is not fatal: names without data pass. */
static int open_node_source(Extender *x, const char *source) {
        ColoError err = {};
        if (extender_node_cache_new(&x->cache) < 0)
                return log_error("Out of memory."), -1;
        if (strncmp(source, "file:", 5) == 0)
                x->node_file = source + 5;
        else if (kube_config_from_cluster(NULL, &x->kube, &err) < 0 || curl_dl_open(&err) < 0)
                return log_error("--node-source in-cluster: %s", err.msg), -1;
        else {
                x->in_cluster = true;
                /* Before the refresher thread starts: older libcurl's global init is not thread-safe. */
                (void) sym_curl_global_init(CURL_GLOBAL_DEFAULT);
        }
        (void) refresh_nodes(x);
        return 0;
}

/* Stops the refresher thread and frees what x holds. */
static void extender_done(Extender *x) {
        if (x->thread_started) {
                pthread_mutex_lock(&x->lock);
                x->stopping = true;
                pthread_cond_signal(&x->wake);
                pthread_mutex_unlock(&x->lock);
                pthread_join(x->thread, NULL);
        }
        extender_node_cache_free(x->cache);
        kube_config_free(x->kube);
        pthread_cond_destroy(&x->wake);
        pthread_mutex_destroy(&x->lock);
        if (x->in_cluster)
                sym_curl_global_cleanup();
}

int cmd_extender(int argc, char **argv) {
        Extender x = { .cfg = EXTENDER_CONFIG_DEFAULT, .refresh_sec = 10 };
        const char *source = NULL;
        ServerOptions o;
        server_options_init(&o, "0.0.0.0:8888", EXTENDER_REQUEST_MAX_SIZE_DEFAULT, EXTENDER_MAX_IN_FLIGHT, handle, &x);
        int ret = parse_args(argc, argv, &x, &o, &source);
        if (ret >= 0)
                return ret;

        ColoError err = {};
        HttpsServer *server = NULL;
        pthread_mutex_init(&x.lock, NULL);
        pthread_cond_init(&x.wake, NULL);
        ret = 1;
        if (source && strcmp(source, "none") != 0 && open_node_source(&x, source) < 0)
                goto finish;

        sigset_t mask;
        server_block_stop_signals(&mask);       /* before the threads below, which inherit the mask */

        if (x.cache) {
                if (pthread_create(&x.thread, NULL, refresher, &x) != 0) {
                        log_error("Cannot start the node refresher: %m");
                        goto finish;
                }
                x.thread_started = true;
        }
        if (https_server_start(&o.http, &server, &err) < 0) {
                log_error("Cannot start the extender: %s", err.msg);
                goto finish;
        }
        log_info("Serving the scheduler extender on %s port %u (%s), node source %s", o.address,
                 https_server_port(server), o.http.cert_file ? "TLS" : "plain HTTP",
                 source ? source : "none (nodeCacheCapable: false)");
        server_wait_for_stop(&mask);
        ret = 0;
finish:
        server = https_server_stop(server);
        extender_done(&x);
        return ret;
}
