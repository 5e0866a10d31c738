/* What `colo webhook` and `colo extender` share: the options of their HTTP(S) server (--listen,
 * --tls-cert, --tls-key, --max-body, --max-in-flight, --max-connections, --max-connections-per-ip,
 * --timeout, --threads), the health endpoint, and running until SIGINT or SIGTERM. Each command
 * keeps its own option table, usage text and handler. */
#pragma once

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>

#include "httpd/https-server.h"

/* getopt codes of the shared long options; a command numbers its own from _SERVER_OPT_MAX. */
enum {
        SERVER_OPT_TLS_CERT = 0x100,
        SERVER_OPT_TLS_KEY,
        SERVER_OPT_MAX_BODY,
        SERVER_OPT_TIMEOUT,
        SERVER_OPT_THREADS,
        SERVER_OPT_MAX_IN_FLIGHT,
        SERVER_OPT_MAX_CONNECTIONS,
        SERVER_OPT_MAX_CONNECTIONS_PER_IP,
        _SERVER_OPT_MAX,
};

/* The shared entries of a command's `struct option` table; its short options include "l:". */
#define SERVER_LONG_OPTIONS                                                   \
        { "listen", required_argument, NULL, 'l' },                           \
        { "tls-cert", required_argument, NULL, SERVER_OPT_TLS_CERT },         \
        { "tls-key", required_argument, NULL, SERVER_OPT_TLS_KEY },           \
        { "max-body", required_argument, NULL, SERVER_OPT_MAX_BODY },         \
        { "timeout", required_argument, NULL, SERVER_OPT_TIMEOUT },           \
        { "threads", required_argument, NULL, SERVER_OPT_THREADS },           \
        { "max-in-flight", required_argument, NULL, SERVER_OPT_MAX_IN_FLIGHT }, \
        { "max-connections", required_argument, NULL, SERVER_OPT_MAX_CONNECTIONS }, \
        { "max-connections-per-ip", required_argument, NULL, SERVER_OPT_MAX_CONNECTIONS_PER_IP }

typedef struct ServerOptions {
        const char *listen;             /* --listen ADDR:PORT, parsed by server_options_finish() */
        HttpsServerOptions http;        /* bind_address points into address once finished */
        char address[64];
} ServerOptions;

/* The connection limits' defaults: enough for an API server's (or scheduler's) concurrent
 * connections, few enough that their buffers (MHD's 32 KiB pool each, TLS state) stay small. */
#define SERVER_MAX_CONNECTIONS_DEFAULT 256u
#define SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT 64u

/* Defaults: --listen default_listen, --max-body max_body, --max-in-flight max_in_flight, the
 * connection limits above, --timeout 30, --threads 2, HTTP log messages at debug level. */
void server_options_init(ServerOptions *o, const char *default_listen, size_t max_body, size_t max_in_flight,
                         HttpHandler handler, void *userdata);

/* Applies getopt's code c with argument arg. Returns 1 when c is a shared option and was applied,
 * 0 when c is not a shared option, -EINVAL when arg is not a valid value for it. */
int server_options_parse(ServerOptions *o, int c, const char *arg);

/* After getopt: resolves --listen into http.bind_address and http.port, and checks that
 * --max-in-flight holds at least one --max-body. On a bad value, prints "colo VERB: ..." to
 * stderr and returns -EINVAL. */
int server_options_finish(ServerOptions *o, const char *verb);

/* Prints "colo VERB: invalid value 'ARG' for --NAME", NAME from options (a getopt table). */
void cli_report_invalid_value(const char *verb, const struct option *options, int c, const char *arg);

/* Answers GET /healthz and /readyz with "ok". Returns true when req was one of them. */
bool server_reply_health(const HttpRequest *req, HttpReply *reply);

/* Blocks SIGINT and SIGTERM in this thread (threads started later inherit the mask) and ignores
 * SIGPIPE. ret_mask gets the blocked set, for server_wait_for_stop(). */
void server_block_stop_signals(sigset_t *ret_mask);

/* Waits for a signal of mask and logs it. */
void server_wait_for_stop(const sigset_t *mask);
