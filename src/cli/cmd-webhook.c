/* colo webhook: serves the mutating admission webhook (POST /mutate, AdmissionReview v1) over
 * TLS, plus GET /healthz. The decision is admission_review() in src/lib/admission; this file parses
 * options, wires the HTTP server, logs each decision and waits for SIGTERM. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/server-cli.h"
#include "admission/admission.h"
#include "httpd/https-server.h"
#include "model/workload.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define REPLACEABLE_MAX 16

/* Four of the largest reviews at once (real ones are a few KiB): with the connections' buffers
 * the webhook stays far inside the 128 MiB limit of deploy/kubernetes/40-webhook.yaml. */
#define WEBHOOK_MAX_IN_FLIGHT (32u << 20)

static void webhook_usage(FILE *f) {
        fprintf(f, "Usage: colo webhook [OPTIONS]\n\n"
                   "Serves the Kubernetes mutating admission webhook: pods marked offline are moved onto\n"
                   "colo.io/offline-cpu and colo.io/offline-memory (POST /mutate, AdmissionReview v1).\n\n"
                   "  -l, --listen ADDR:PORT           address to listen on (default 0.0.0.0:8443)\n"
                   "      --tls-cert FILE              PEM certificate (chain) for TLS\n"
                   "      --tls-key FILE               PEM private key for TLS\n"
                   "      --insecure-http              serve plain HTTP (tests only; the API server needs TLS)\n"
                   "      --max-body BYTES             largest AdmissionReview accepted (default %u)\n"
                   "      --max-in-flight BYTES        memory all request bodies being received may hold\n"
                   "                                   together; past it requests get 503 (default %u)\n"
                   "      --max-connections N          open connections at most (default %u)\n"
                   "      --max-connections-per-ip N   open connections per client address (default %u)\n"
                   "      --timeout SEC                idle connection timeout (default 30)\n"
                   "      --threads N                  request threads (default 2)\n"
                   "      --offline-priority N         value of the colo-offline PriorityClass (default %d)\n"
                   "      --preemption-policy POLICY   Never (default), PreemptLowerPriority, or keep\n"
                   "      --replaceable-priority-class NAME\n"
                   "                                   a class offline pods may carry and lose, such as the\n"
                   "                                   cluster's globalDefault one (repeatable)\n",
                ADMISSION_REVIEW_MAX_SIZE, WEBHOOK_MAX_IN_FLIGHT, SERVER_MAX_CONNECTIONS_DEFAULT,
                SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT, ADMISSION_OFFLINE_PRIORITY_DEFAULT);
}

static void handle(const HttpRequest *req, HttpReply *reply, void *userdata) {
        const AdmissionConfig *cfg = userdata;
        if (server_reply_health(req, reply))
                return;
        if (strcmp(req->path, "/mutate") != 0)
                return http_reply_error(reply, 404, "unknown path; the webhook serves POST /mutate");
        if (strcmp(req->method, "POST") != 0)
                return http_reply_error(reply, 405, "use POST");
        if (req->content_type && strncmp(req->content_type, "application/json", 16) != 0)
                return http_reply_error(reply, 415, "Content-Type must be application/json");

        ColoError err = {};
        AdmissionOutcome out = {};
        int r = admission_review(cfg, req->body, req->body_size, &reply->body, &reply->body_size, &out, &err);
        if (r < 0) {
                log_warning("Bad AdmissionReview: %s", err.msg);
                return http_reply_error(reply, r == -ENOMEM ? 500 : 400, err.msg);
        }
        const char *cls = workload_class_to_string(out.workload_class);
        if (!out.allowed)
                log_info("Rejected pod '%s' (uid %s, code %d): %s", out.pod, out.uid, out.code, out.message);
        else if (out.patch_ops > 0)
                log_info("Mutated %s pod '%s' (uid %s): %zu patch operations", cls ? cls : "?", out.pod, out.uid,
                         out.patch_ops);
        else
                log_debug("Admitted %s pod '%s' (uid %s) unchanged", cls ? cls : "-", out.pod, out.uid);
}

enum { OPT_INSECURE = _SERVER_OPT_MAX, OPT_PRIORITY, OPT_PREEMPTION, OPT_REPLACEABLE };
static const struct option webhook_options[] = {
        SERVER_LONG_OPTIONS,
        { "insecure-http", no_argument, NULL, OPT_INSECURE },
        { "offline-priority", required_argument, NULL, OPT_PRIORITY },
        { "preemption-policy", required_argument, NULL, OPT_PREEMPTION },
        { "replaceable-priority-class", required_argument, NULL, OPT_REPLACEABLE },
        { "help", no_argument, NULL, 'h' },
        {},
};

typedef struct WebhookArgs {
        AdmissionConfig cfg;
        const char *replaceable[REPLACEABLE_MAX + 1];
        size_t n_replaceable;
        bool insecure;
} WebhookArgs;

/* One of the webhook's own options. -EINVAL for a bad value, -E2BIG past REPLACEABLE_MAX. */
static int parse_webhook_option(WebhookArgs *w, int c, const char *arg) {
        int64_t prio;
        switch (c) {
        case OPT_INSECURE:
                w->insecure = true;
                return 0;
        case OPT_PRIORITY:
                if (parse_i64(arg, &prio) < 0 || prio < INT32_MIN || prio > 1000000000)
                        return -EINVAL;
                w->cfg.offline_priority = (int32_t) prio;
                return 0;
        case OPT_PREEMPTION:
                if (strcmp(arg, "keep") == 0)
                        w->cfg.offline_preemption_policy = NULL;
                else if (strcmp(arg, "Never") == 0 || strcmp(arg, "PreemptLowerPriority") == 0)
                        w->cfg.offline_preemption_policy = arg;
                else
                        return -EINVAL;
                return 0;
        case OPT_REPLACEABLE:
                if (w->n_replaceable == REPLACEABLE_MAX)
                        return -E2BIG;
                w->replaceable[w->n_replaceable++] = arg;
                return 0;
        }
        return -EINVAL;
}

/* The command line into w and o. Returns -1 to go on, else the exit status (0 after --help, 2 on
 * a usage error, printed). */
static int parse_args(int argc, char **argv, WebhookArgs *w, ServerOptions *o) {
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "l:h", webhook_options, NULL)) >= 0) {
                int r = server_options_parse(o, c, optarg);
                if (r > 0)
                        continue;
                if (r == 0 && c == 'h')
                        return webhook_usage(stdout), 0;
                if (r == 0 && (c < OPT_INSECURE || c > OPT_REPLACEABLE))
                        return webhook_usage(stderr), 2;
                if (r == 0)
                        r = parse_webhook_option(w, c, optarg);
                if (r == -E2BIG) {
                        fprintf(stderr, "colo webhook: at most %d --replaceable-priority-class\n", REPLACEABLE_MAX);
                        return 2;
                }
                if (r < 0) {
                        cli_report_invalid_value("webhook", webhook_options, c, optarg);
                        return 2;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "colo webhook: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        w->cfg.replaceable_priority_classes = w->replaceable;
        if (!w->insecure && (!o->http.cert_file || !o->http.key_file)) {
                fprintf(stderr, "colo webhook: the API server calls webhooks over TLS: give --tls-cert and --tls-key "
                                "(or --insecure-http for tests)\n");
                return 2;
        }
        if (w->insecure && (o->http.cert_file || o->http.key_file)) {
                fprintf(stderr, "colo webhook: --insecure-http excludes --tls-cert/--tls-key\n");
                return 2;
        }
        return server_options_finish(o, "webhook") < 0 ? 2 : -1;
}

int cmd_webhook(int argc, char **argv) {
        WebhookArgs w = { .cfg = ADMISSION_CONFIG_DEFAULT };
        ServerOptions o;
        server_options_init(&o, "0.0.0.0:8443", ADMISSION_REVIEW_MAX_SIZE, WEBHOOK_MAX_IN_FLIGHT, handle, &w.cfg);
        int ret = parse_args(argc, argv, &w, &o);
        if (ret >= 0)
                return ret;

        sigset_t mask;
        server_block_stop_signals(&mask);       /* before the server threads, which inherit the mask */

        ColoError err = {};
        _cleanup_(https_server_stopp) HttpsServer *server = NULL;
        if (https_server_start(&o.http, &server, &err) < 0) {
                log_error("Cannot start the webhook: %s", err.msg);
                return 1;
        }
        log_info("Serving the admission webhook on %s port %u (%s), offline priority %d", o.address,
                 https_server_port(server), w.insecure ? "plain HTTP" : "TLS", w.cfg.offline_priority);
        server_wait_for_stop(&mask);
        return 0;
}
