/* The HTTP(S) server side that `colo webhook` and `colo extender` share: option parsing with the
 * same ranges and messages, the health endpoint, and the stop signals. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cli/server-cli.h"
#include "util/fileio.h"
#include "util/log.h"

static void on_http_log(const char *message, void *userdata) {
        (void) userdata;
        log_debug("http: %s", message);
}

void server_options_init(ServerOptions *o, const char *default_listen, size_t max_body, size_t max_in_flight,
                         HttpHandler handler, void *userdata) {
        *o = (ServerOptions) {
                .listen = default_listen,
                .http = { .max_body_size = max_body, .max_in_flight = max_in_flight, .connection_timeout_sec = 30,
                          .threads = 2, .max_connections = SERVER_MAX_CONNECTIONS_DEFAULT,
                          .max_connections_per_ip = SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT,
                          .handler = handler, .userdata = userdata, .logger = on_http_log },
        };
}

static int parse_range(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        return parse_u64(s, ret) < 0 || *ret < min || *ret > max ? -EINVAL : 0;
}

int server_options_parse(ServerOptions *o, int c, const char *arg) {
        uint64_t v;
        switch (c) {
        case 'l': o->listen = arg; return 1;
        case SERVER_OPT_TLS_CERT: o->http.cert_file = arg; return 1;
        case SERVER_OPT_TLS_KEY: o->http.key_file = arg; return 1;
        case SERVER_OPT_MAX_BODY:
                if (parse_range(arg, 1024, 1u << 30, &v) < 0)
                        return -EINVAL;
                o->http.max_body_size = v;
                return 1;
        case SERVER_OPT_TIMEOUT:
                if (parse_range(arg, 1, 3600, &v) < 0)
                        return -EINVAL;
                o->http.connection_timeout_sec = (unsigned) v;
                return 1;
        case SERVER_OPT_THREADS:
                if (parse_range(arg, 1, 256, &v) < 0)
                        return -EINVAL;
                o->http.threads = (unsigned) v;
                return 1;
        case SERVER_OPT_MAX_IN_FLIGHT:
                if (parse_range(arg, 1024, (uint64_t) 16 << 30, &v) < 0)
                        return -EINVAL;
                o->http.max_in_flight = v;
                return 1;
        case SERVER_OPT_MAX_CONNECTIONS:
                if (parse_range(arg, 1, 65536, &v) < 0)
                        return -EINVAL;
                o->http.max_connections = (unsigned) v;
                return 1;
        case SERVER_OPT_MAX_CONNECTIONS_PER_IP:
                if (parse_range(arg, 1, 65536, &v) < 0)
                        return -EINVAL;
                o->http.max_connections_per_ip = (unsigned) v;
                return 1;
        default: return 0;
        }
}

int server_options_finish(ServerOptions *o, const char *verb) {
        if (https_listen_parse(o->listen, o->address, sizeof(o->address), &o->http.port) < 0) {
                fprintf(stderr, "colo %s: --listen '%s' is not ADDR:PORT\n", verb, o->listen);
                return -EINVAL;
        }
        o->http.bind_address = o->address;
        if (o->http.max_in_flight < o->http.max_body_size) {
                fprintf(stderr, "colo %s: --max-in-flight %zu is smaller than --max-body %zu: no body of the largest "
                        "size could be received\n", verb, o->http.max_in_flight, o->http.max_body_size);
                return -EINVAL;
        }
        return 0;
}

void cli_report_invalid_value(const char *verb, const struct option *options, int c, const char *arg) {
        for (const struct option *p = options; p->name; p++)
                if (p->val == c)
                        fprintf(stderr, "colo %s: invalid value '%s' for --%s\n", verb, arg, p->name);
}

bool server_reply_health(const HttpRequest *req, HttpReply *reply) {
        if (strcmp(req->path, "/healthz") != 0 && strcmp(req->path, "/readyz") != 0)
                return false;
        reply->content_type = "text/plain";
        reply->body = strdup("ok\n");
        reply->body_size = reply->body ? 3 : 0;
        return true;
}

void server_block_stop_signals(sigset_t *ret_mask) {
        sigemptyset(ret_mask);
        sigaddset(ret_mask, SIGINT);
        sigaddset(ret_mask, SIGTERM);
        pthread_sigmask(SIG_BLOCK, ret_mask, NULL);
        signal(SIGPIPE, SIG_IGN);
}

void server_wait_for_stop(const sigset_t *mask) {
        int sig = 0;
        (void) sigwait(mask, &sig);
        log_info("Got %s, stopping.", strsignal(sig));
}
