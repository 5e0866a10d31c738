/* The HTTP(S) server of the webhook and the extender under hostile clients, on 127.0.0.1: the
 * shared budget for bodies in flight (503 past it, whether the length is declared or chunked),
 * the connection limit per client address (slow clients from one address leave the others
 * served), the TLS policy (versions, suites, key size), and the memory of `colo webhook` and
 * `colo extender` under 16 slow uploads of large bodies (peak RSS from /proc, a bound asserted).
 * Other clients are told apart by their source address: 127.0.0.2 is "the attacker". */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>

#include "k8s-test-helpers.h"
#include "local-server.h"
#include "httpd/https-server.h"
#include "httpd/tls-policy.h"

#define MIB (1024u * 1024u)

static void echo_size_handler(const HttpRequest *req, HttpReply *reply, void *userdata) {
        (void) userdata;
        char buf[64];
        snprintf(buf, sizeof(buf), "%zu bytes\n", req->body_size);
        reply->content_type = "text/plain";
        reply->body = strdup(buf);
        reply->body_size = reply->body ? strlen(reply->body) : 0;
}

/* A TCP connection to 127.0.0.1:port from the source address src, so the server sees one client
 * per address. Reads and writes give up after 10 s: a broken server fails the test, not hangs it. */
static int connect_from(const char *src, uint16_t port) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_in from = { .sin_family = AF_INET }, to = { .sin_family = AF_INET, .sin_port = htons(port) };
        assert_int_equal(inet_pton(AF_INET, src, &from.sin_addr), 1);
        assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &to.sin_addr), 1);
        assert_int_equal(bind(fd, (struct sockaddr *) &from, sizeof(from)), 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &to, sizeof(to)), 0);
        struct timeval tv = { .tv_sec = 10 };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        return fd;
}

/* 0, or -errno once the server has closed the connection. */
static int send_all(int fd, const void *data, size_t n) {
        const char *p = data;
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static int send_body(int fd, size_t n) {
        static char chunk[64 << 10];
        memset(chunk, 'x', sizeof(chunk));
        while (n > 0) {
                size_t k = MIN(n, sizeof(chunk));
                int r = send_all(fd, chunk, k);
                if (r < 0)
                        return r;
                n -= k;
        }
        return 0;
}

static int send_post_headers(int fd, const char *path, size_t content_length) {
        char h[256];
        int n = snprintf(h, sizeof(h), "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n", path, content_length);
        return send_all(fd, h, (size_t) n);
}

/* Reads an answer's head into buf. Returns its status, 0 when the server closed the connection
 * without one, -1 when none came in 10 s. */
static int read_status(int fd, char *buf, size_t size) {
        size_t len = 0;
        buf[0] = '\0';
        while (len + 1 < size && !strstr(buf, "\r\n\r\n")) {
                ssize_t k = recv(fd, buf + len, size - 1 - len, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return -1;
                if (k <= 0)
                        break;
                len += (size_t) k;
                buf[len] = '\0';
        }
        int status;
        return sscanf(buf, "HTTP/1.%*d %d", &status) == 1 ? status : 0;
}

static void sleep_ms(long ms) {
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

/* Waits (at most 20 s) until the server's body buffers hold at least min and at most max bytes. */
static void wait_in_flight(HttpsServer *s, size_t min, size_t max) {
        for (int i = 0; i < 2000; i++) {
                size_t n = https_server_in_flight(s);
                if (n >= min && n <= max)
                        return;
                sleep_ms(10);
        }
        fail_msg("bodies in flight: %zu bytes, expected %zu..%zu", https_server_in_flight(s), min, max);
}

static void test_body_budget_is_shared(void **state) {
        (void) state;
        HttpsServerOptions o = { .bind_address = "127.0.0.1", .max_body_size = 64 << 10, .max_in_flight = 100 << 10,
                                 .connection_timeout_sec = 30, .threads = 2, .handler = echo_size_handler };
        _cleanup_(https_server_stopp) HttpsServer *s = NULL;
        ColoError err = {};
        assert_int_equal(https_server_start(&o, &s, &err), 0);
        uint16_t port = https_server_port(s);
        char head[1024];

        /* A slow upload holds 60000 of the 102400 bytes. */
        int slow = connect_from("127.0.0.1", port);
        assert_int_equal(send_post_headers(slow, "/x", 60000), 0);
        assert_int_equal(send_body(slow, 59999), 0);
        wait_in_flight(s, 59999, 60001);

        /* A second body of that size does not fit: refused on its headers, before it is sent. */
        int fd = connect_from("127.0.0.1", port);
        assert_int_equal(send_post_headers(fd, "/x", 60000), 0);
        assert_int_equal(read_status(fd, head, sizeof(head)), 503);
        assert_non_null(strstr(head, "Retry-After: 1"));
        close(fd);

        /* Nor does one of undeclared length: refused once its buffer would pass the budget, and
         * its buffer given back at once. */
        fd = connect_from("127.0.0.1", port);
        static const char chunked[] = "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nea60\r\n";
        assert_int_equal(send_all(fd, chunked, strlen(chunked)), 0);
        assert_int_equal(send_body(fd, 60000), 0);
        assert_int_equal(send_all(fd, "\r\n0\r\n\r\n", 7), 0);
        assert_int_equal(read_status(fd, head, sizeof(head)), 503);
        close(fd);
        wait_in_flight(s, 59999, 60001);

        /* The slow client goes away: the budget is whole again and a body of that size passes. */
        close(slow);
        wait_in_flight(s, 0, 0);
        fd = connect_from("127.0.0.1", port);
        assert_int_equal(send_post_headers(fd, "/x", 60000), 0);
        assert_int_equal(send_body(fd, 60000), 0);
        assert_int_equal(read_status(fd, head, sizeof(head)), 200);
        close(fd);
        wait_in_flight(s, 0, 0);

        /* A budget that cannot hold one body of the limit is a configuration error. */
        _cleanup_(https_server_stopp) HttpsServer *bad = NULL;
        o.max_in_flight = o.max_body_size - 1;
        assert_int_equal(https_server_start(&o, &bad, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "smaller than one body"));
}

/* Slowloris from 127.0.0.2: headers begun and never finished. */
static void test_slow_client_leaves_others_served(void **state) {
        (void) state;
        HttpsServerOptions o = { .bind_address = "127.0.0.1", .max_body_size = 1024, .max_in_flight = 4096,
                                 .connection_timeout_sec = 30, .threads = 1, .max_connections = 16,
                                 .max_connections_per_ip = 4, .handler = echo_size_handler };
        _cleanup_(https_server_stopp) HttpsServer *s = NULL;
        ColoError err = {};
        assert_int_equal(https_server_start(&o, &s, &err), 0);
        uint16_t port = https_server_port(s);
        char head[1024];

        int slow[40];
        for (size_t i = 0; i < ELEMENTSOF(slow); i++) {
                slow[i] = connect_from("127.0.0.2", port);
                (void) send_all(slow[i], "GET /healthz HTTP/1.1\r\nHost:", 28);
        }
        /* Past its 4 connections, the slow client's next ones are closed unanswered... */
        size_t closed = 0;
        for (size_t i = 4; i < ELEMENTSOF(slow); i++)
                closed += read_status(slow[i], head, sizeof(head)) == 0;
        assert_int_equal(closed, ELEMENTSOF(slow) - 4);
        /* ...while another client is answered, on a new connection each time. */
        for (int i = 0; i < 3; i++) {
                int fd = connect_from("127.0.0.1", port);
                static const char get[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
                assert_int_equal(send_all(fd, get, strlen(get)), 0);
                assert_int_equal(read_status(fd, head, sizeof(head)), 200);
                close(fd);
        }
        for (size_t i = 0; i < ELEMENTSOF(slow); i++)
                close(slow[i]);
}

/* ---- TLS ----------------------------------------------------------------------------------- */

static char tls_dir[] = "/tmp/colo-test-tls-XXXXXX";

static int make_cert(const char *name, const char *newkey) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey %s -nodes -days 1 -subj /CN=127.0.0.1 -keyout '%s/%s.key' "
                 "-out '%s/%s.crt' >/dev/null 2>&1", newkey, tls_dir, name, tls_dir, name);
        return system(cmd) == 0 ? 0 : -EIO;
}

static int setup_tls(void **state) {
        (void) state;
        if (system("command -v openssl >/dev/null 2>&1") != 0)
                return -1;
        if (!mkdtemp(tls_dir))
                return -1;
        return make_cert("rsa2048", "rsa:2048") < 0 || make_cert("rsa1024", "rsa:1024") < 0 ||
               make_cert("ec", "ec -pkeyopt ec_paramgen_curve:prime256v1") < 0 ? -1 : 0;
}

static int teardown_tls(void **state) {
        (void) state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tls_dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* A client handshake offering only what prio allows. Returns 0 with what was negotiated, or the
 * GnuTLS error. */
static int tls_handshake(uint16_t port, const char *prio, gnutls_protocol_t *ret_version,
                         gnutls_kx_algorithm_t *ret_kx) {
        gnutls_certificate_credentials_t cred;
        gnutls_session_t session;
        assert_int_equal(gnutls_certificate_allocate_credentials(&cred), 0);
        assert_int_equal(gnutls_init(&session, GNUTLS_CLIENT), 0);
        assert_int_equal(gnutls_priority_set_direct(session, prio, NULL), 0);
        assert_int_equal(gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred), 0);
        int fd = connect_from("127.0.0.1", port);
        gnutls_transport_set_int(session, fd);
        gnutls_handshake_set_timeout(session, 10000);
        int r;
        do
                r = gnutls_handshake(session);
        while (r < 0 && !gnutls_error_is_fatal(r));
        if (r == 0) {
                *ret_version = gnutls_protocol_get_version(session);
                *ret_kx = gnutls_kx_get(session);
                (void) gnutls_bye(session, GNUTLS_SHUT_WR);
        }
        gnutls_deinit(session);
        gnutls_certificate_free_credentials(cred);
        close(fd);
        return r;
}

static HttpsServer *start_tls(const char *name, ColoError *err) {
        static char cert[128], key[128];
        snprintf(cert, sizeof(cert), "%s/%s.crt", tls_dir, name);
        snprintf(key, sizeof(key), "%s/%s.key", tls_dir, name);
        HttpsServerOptions o = { .bind_address = "127.0.0.1", .cert_file = cert, .key_file = key,
                                 .max_body_size = 1024, .max_in_flight = 4096, .connection_timeout_sec = 5,
                                 .threads = 1, .handler = echo_size_handler };
        HttpsServer *s = NULL;
        return https_server_start(&o, &s, err) < 0 ? NULL : s;
}

static void test_tls_policy(void **state) {
        (void) state;
        static const struct {
                const char *what, *prio;
                bool accepted;
                gnutls_protocol_t version;
                gnutls_kx_algorithm_t kx;
        } cases[] = {
                { "TLS 1.0", "NORMAL:-VERS-ALL:+VERS-TLS1.0", false, 0, 0 },
                { "TLS 1.1", "NORMAL:-VERS-ALL:+VERS-TLS1.1", false, 0, 0 },
                { "AES128-SHA (static RSA key exchange)",
                  "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA1", false, 0, 0 },
                { "ECDHE-RSA-AES128-SHA (CBC)",
                  "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA1", false, 0,
                  0 },
                { "TLS 1.2 ECDHE-RSA AES-GCM", "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA", true, GNUTLS_TLS1_2,
                  GNUTLS_KX_ECDHE_RSA },
                { "TLS 1.3", "NORMAL:-VERS-ALL:+VERS-TLS1.3", true, GNUTLS_TLS1_3, GNUTLS_KX_ECDHE_RSA },
        };
        ColoError err = {};
        _cleanup_(https_server_stopp) HttpsServer *s = start_tls("rsa2048", &err);
        assert_non_null(s);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                gnutls_protocol_t version = 0;
                gnutls_kx_algorithm_t kx = 0;
                int r = tls_handshake(https_server_port(s), cases[i].prio, &version, &kx);
                print_message("%s: %s\n", cases[i].what, r == 0 ? "accepted" : gnutls_strerror(r));
                assert_int_equal(r == 0, cases[i].accepted);
                if (r == 0 && cases[i].version == GNUTLS_TLS1_2) {
                        assert_int_equal(version, cases[i].version);
                        assert_int_equal(kx, cases[i].kx);
                } else if (r == 0)
                        assert_int_equal(version, cases[i].version);
        }
}

static void test_tls_keys(void **state) {
        (void) state;
        ColoError err = {};
        HttpsServer *s = start_tls("ec", &err);
        assert_non_null(s);
        https_server_stop(s);

        assert_null(start_tls("rsa1024", &err));
        assert_int_equal(err.code, EKEYREJECTED);
        char key[128];
        snprintf(key, sizeof(key), "TLS key '%s/rsa1024.key': RSA key of 1024 bits is too weak", tls_dir);
        assert_non_null(strstr(err.msg, key));

        /* 512 bits, as in the report (openssl req no longer makes keys that small). */
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "cd '%s' && openssl genrsa -out rsa512.key 512 >/dev/null 2>&1 && "
                 "cp rsa2048.crt rsa512.crt", tls_dir);
        assert_int_equal(system(cmd), 0);
        assert_null(start_tls("rsa512", &err));
        assert_int_equal(err.code, EKEYREJECTED);
        assert_non_null(strstr(err.msg, "RSA key of 512 bits is too weak, at least 2048 bits needed"));
}

/* ---- memory of the real servers under slow uploads --------------------------------------- */

static uint64_t proc_status_kib(pid_t pid, const char *field) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        uint64_t v = 0;
        size_t n = strlen(field);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, field, n) == 0 && line[n] == ':')
                        v = strtoull(line + n + 1, NULL, 10);
        fclose(f);
        return v;
}

/* True when no established TCP connection to or from port has bytes queued in either direction:
 * the server has read everything the clients sent. */
static bool tcp_drained(uint16_t port) {
        FILE *f = fopen("/proc/net/tcp", "re");
        assert_non_null(f);
        char line[512];
        bool drained = true;
        while (fgets(line, sizeof(line), f)) {
                unsigned local_port, remote_port, st;
                unsigned long tx, rx;
                if (sscanf(line, " %*d: %*x:%x %*x:%x %x %lx:%lx", &local_port, &remote_port, &st, &tx, &rx) != 5)
                        continue;
                if (st == 1 && (local_port == port || remote_port == port) && (tx || rx))
                        drained = false;
        }
        fclose(f);
        return drained;
}

/* n uploads of size bytes each, all but the last byte sent, held open while the server reads
 * them. Returns the server's peak RSS in KiB. */
static uint64_t slow_uploads_peak_kib(pid_t pid, uint16_t port, const char *path, unsigned n, size_t size) {
        int fds[16];
        assert_true(n <= ELEMENTSOF(fds));
        for (unsigned i = 0; i < n; i++) {
                fds[i] = connect_from("127.0.0.1", port);
                assert_int_equal(send_post_headers(fds[i], path, size), 0);
        }
        unsigned refused = 0;
        for (unsigned i = 0; i < n; i++)
                refused += send_body(fds[i], size - 1) < 0;     /* refused on its headers: closed */
        int i;
        for (i = 0; i < 3000 && !tcp_drained(port); i++)
                sleep_ms(10);
        assert_true(i < 3000);
        uint64_t peak = proc_status_kib(pid, "VmHWM");
        print_message("%u uploads of %zu MiB to %s: server peak RSS %.1f MiB (now %.1f MiB), %u refused on "
                      "their headers\n", n, size / MIB, path, (double) peak / 1024,
                      (double) proc_status_kib(pid, "VmRSS") / 1024, refused);
        for (unsigned k = 0; k < n; k++)
                close(fds[k]);
        return peak;
}

static pid_t start_server(const char *verb, LocalServer *l) {
        /* The sanitizer's quarantine would keep freed buffers resident; the bound is colo's. */
        const char *asan = getenv("ASAN_OPTIONS");
        char opts[512];
        snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=0", asan ? asan : "", asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
        char *args[] = { (char *) verb, "--listen", l->listen, strcmp(verb, "webhook") == 0 ? "--insecure-http" : NULL,
                         NULL };
        return start_colo_on_free_port(args, l);
}

/* Its manifest gives the webhook 128 MiB; 16 uploads of the largest review (8 MiB) took 134 MiB
 * before the budget. */
static void test_webhook_memory_under_slow_uploads(void **state) {
        (void) state;
        LocalServer l;
        pid_t pid = start_server("webhook", &l);
        if (pid == 0)
                skip();
        assert_true(pid > 0);
        uint64_t peak = slow_uploads_peak_kib(pid, l.port, "/mutate", 16, 8 * MIB);
        assert_true(peak < 80 * 1024);  /* the 32 MiB budget, allocator slack, the process (ASan's too) */
        assert_int_equal(stop_colo(pid), 0);
}

/* The extender's manifest gives it 512 MiB; 16 uploads of 32 MiB (half its body limit) took 518 MiB
 * before the budget. */
static void test_extender_memory_under_slow_uploads(void **state) {
        (void) state;
        LocalServer l;
        pid_t pid = start_server("extender", &l);
        if (pid == 0)
                skip();
        assert_true(pid > 0);
        uint64_t peak = slow_uploads_peak_kib(pid, l.port, "/filter", 16, 32 * MIB);
        assert_true(peak < 256 * 1024); /* the 128 MiB budget, allocator slack and the process */
        assert_int_equal(stop_colo(pid), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_body_budget_is_shared),
                cmocka_unit_test(test_slow_client_leaves_others_served),
                cmocka_unit_test(test_tls_policy),
                cmocka_unit_test(test_tls_keys),
                cmocka_unit_test_teardown(test_webhook_memory_under_slow_uploads, teardown_colo_child),
                cmocka_unit_test_teardown(test_extender_memory_under_slow_uploads, teardown_colo_child),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup_tls, teardown_tls);
}
