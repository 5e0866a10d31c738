/* Helpers shared by the Kubernetes unit tests (admission, extender): fixtures, a JSON Patch
 * applier, base64, an HTTP client on libcurl, a self-signed certificate from openssl, and a
 * `colo` subprocess on 127.0.0.1 (its port: local-server.h). Header-only: each test is one
 * executable. */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "util/fileio.h"
#include "util/macro.h"

extern char **environ;

static inline char *fixture_path(const char *name) {
        const char *dir = getenv("COLO_TEST_FIXTURES");
        char *p = NULL;
        if (asprintf(&p, "%s/k8s/%s", dir ? dir : "tests/fixtures", name) < 0)
                abort();
        return p;
}

static inline char *fixture_text(const char *name, size_t *ret_size) {
        _cleanup_free_ char *path = fixture_path(name);
        char *text = NULL;
        size_t size = 0;
        ColoError err = {};
        if (read_full_file(path, 64 << 20, &text, &size, &err) < 0) {
                fprintf(stderr, "fixture: %s\n", err.msg);
                abort();
        }
        if (ret_size)
                *ret_size = size;
        return text;
}

static inline json_t *fixture_json(const char *name) {
        _cleanup_free_ char *text = fixture_text(name, NULL);
        json_error_t jerr;
        json_t *j = json_loads(text, 0, &jerr);
        if (!j) {
                fprintf(stderr, "fixture %s: %s\n", name, jerr.text);
                abort();
        }
        return j;
}

static inline char *base64_decode(const char *s, size_t *ret_size) {
        size_t n = strlen(s);
        unsigned char *out = malloc(n / 4 * 3 + 1);
        size_t o = 0;
        uint32_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < n && s[i] != '='; i++) {
                const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                const char *p = strchr(alphabet, s[i]);
                if (!p) {
                        free(out);
                        return NULL;
                }
                acc = (acc << 6) | (uint32_t) (p - alphabet);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (unsigned char) (acc >> bits);
                }
        }
        out[o] = '\0';
        if (ret_size)
                *ret_size = o;
        return (char *) out;
}

/* RFC 6902 add/replace/remove with RFC 6901 pointers; enough for the webhook's patches. */
static inline int json_patch_apply(json_t *doc, const json_t *patch) {
        size_t i;
        const json_t *op;
        json_array_foreach(patch, i, op) {
                const char *kind = json_string_value(json_object_get(op, "op"));
                const char *path = json_string_value(json_object_get(op, "path"));
                json_t *value = json_object_get(op, "value");
                if (!kind || !path || path[0] != '/')
                        return -EINVAL;
                char buf[1024];
                snprintf(buf, sizeof(buf), "%s", path + 1);
                json_t *parent = doc;
                char *seg = buf, *slash;
                while ((slash = strchr(seg, '/'))) {
                        *slash = '\0';
                        parent = json_is_array(parent) ? json_array_get(parent, strtoul(seg, NULL, 10))
                                                       : json_object_get(parent, seg);
                        if (!parent)
                                return -ENOENT;
                        seg = slash + 1;
                }
                char key[512];
                size_t k = 0;
                for (const char *c = seg; *c && k + 1 < sizeof(key); c++)
                        key[k++] = c[0] == '~' && c[1] == '1' ? (c++, '/') : c[0] == '~' && c[1] == '0' ? (c++, '~') : c[0];
                key[k] = '\0';
                bool exists = json_is_array(parent) ? json_array_get(parent, strtoul(key, NULL, 10)) != NULL
                                                    : json_object_get(parent, key) != NULL;
                if (strcmp(kind, "replace") == 0 && !exists)
                        return -ENOENT;
                if (strcmp(kind, "add") == 0 || strcmp(kind, "replace") == 0) {
                        if (json_is_array(parent))
                                json_array_set(parent, strtoul(key, NULL, 10), value);
                        else
                                json_object_set(parent, key, value);
                } else if (strcmp(kind, "remove") == 0) {
                        if (!exists)
                                return -ENOENT;
                        json_object_del(parent, key);
                } else
                        return -EOPNOTSUPP;
        }
        return 0;
}

typedef struct HttpResult {
        long status;
        char *body;
        size_t size;
        long connects;                  /* new connections made for this request (0 = reused) */
} HttpResult;

static inline size_t http_collect(char *p, size_t sz, size_t n, void *userdata) {
        HttpResult *r = userdata;
        char *b = realloc(r->body, r->size + sz * n + 1);
        if (!b)
                return 0;
        memcpy(b + r->size, p, sz * n);
        r->body = b;
        r->size += sz * n;
        r->body[r->size] = '\0';
        return sz * n;
}

/* POSTs (or GETs, with body NULL) on curl, reusing its connection, with one more request header
 * (NULL: none). ca_file enables TLS checks. */
static inline int http_request_with_header(CURL *curl, const char *url, const char *body, size_t size,
                                           const char *ca_file, const char *header, HttpResult *ret) {
        *ret = (HttpResult) {};
        struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
        if (header)
                headers = curl_slist_append(headers, header);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_collect);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, ret);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  /* tests talk to 127.0.0.1 only, whatever *_proxy says */
        if (ca_file)
                curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
        if (body) {
                curl_easy_setopt(curl, CURLOPT_POST, 1L);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) size);
        } else
                curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        CURLcode cc = curl_easy_perform(curl);
        curl_slist_free_all(headers);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
        if (cc != CURLE_OK)
                return -EIO;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &ret->status);
        curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &ret->connects);
        return 0;
}

static inline int http_request(CURL *curl, const char *url, const char *body, size_t size, const char *ca_file,
                               HttpResult *ret) {
        return http_request_with_header(curl, url, body, size, ca_file, NULL, ret);
}

/* A self-signed EC certificate for 127.0.0.1 in dir (cert.pem, key.pem). -ENOENT without openssl. */
static inline int make_self_signed_cert(const char *dir) {
        if (system("command -v openssl >/dev/null 2>&1") != 0)
                return -ENOENT;
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
                 "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '%s/key.pem' -out '%s/cert.pem' "
                 ">/dev/null 2>&1", dir, dir);
        return system(cmd) == 0 ? 0 : -EIO;
}

/* A running `colo` for a cmocka test; the teardown stops it even when the test failed. */
static pid_t colo_child;

static inline int teardown_colo_child(void **state) {
        (void) state;
        if (colo_child > 0) {
                kill(colo_child, SIGKILL);
                waitpid(colo_child, NULL, 0);
        }
        colo_child = 0;
        return 0;
}

/* Starts `$COLO_BIN args...` and waits (at most 10 s) until GET health_url answers 200.
 * Returns the pid, 0 when COLO_BIN is unset, -ECHILD when it exited before answering (reaped),
 * -1 when it did not come up. */
static inline pid_t start_colo(char *const args[], const char *health_url) {
        const char *bin = getenv("COLO_BIN");
        if (!bin || access(bin, X_OK) < 0)
                return 0;
        char *argv[32] = { (char *) bin };
        for (size_t i = 0; args[i] && i < 30; i++)
                argv[i + 1] = args[i];
        pid_t pid;
        if (posix_spawn(&pid, bin, NULL, NULL, argv, environ) != 0)
                return -1;
        colo_child = pid;
        CURL *curl = curl_easy_init();
        for (int i = 0; i < 200; i++) {
                HttpResult r;
                curl_easy_setopt(curl, CURLOPT_TIMEOUT, 1L);
                if (http_request(curl, health_url, NULL, 0, NULL, &r) == 0 && r.status == 200) {
                        free(r.body);
                        curl_easy_cleanup(curl);
                        return pid;
                }
                free(r.body);
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        curl_easy_cleanup(curl);
                        colo_child = 0;         /* reaped: its pid may be reused, never kill it */
                        return -ECHILD;
                }
                struct timespec ts = { 0, 50 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        curl_easy_cleanup(curl);
        teardown_colo_child(NULL);
        return -1;
}

/* Replaces every occurrence of from with to (the same length) in text, in place. */
static inline void replace_all_same_length(char *text, const char *from, const char *to) {
        size_t n = strlen(from);
        if (strlen(to) != n)
                abort();
        for (char *p = strstr(text, from); p; p = strstr(p + n, from))
                memcpy(p, to, n);
}

/* SIGTERM, then the exit status (or -1). */
static inline int stop_colo(pid_t pid) {
        int status;
        kill(pid, SIGTERM);
        if (waitpid(pid, &status, 0) != pid)
                return -1;
        if (pid == colo_child)
                colo_child = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
