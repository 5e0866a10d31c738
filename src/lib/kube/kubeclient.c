/* Asynchronous HTTP calls to the API server on one curl multi handle. Each call is an easy handle
 * carrying the connection settings (server, CA, client certificate, bearer token); bodies are
 * buffered or streamed, and completions are delivered after libcurl returns, so callbacks may
 * start follow-up calls (a watch after its list, a retry after a failure). */
#include <string.h>

#include "kube/curl-dl.h"
#include "kube/kubeclient.h"
#include "util/fileio.h"
#include "util/macro.h"

/* A non-2xx body of a streaming call is buffered up to this much (it is a Status object). */
#define ERROR_BODY_MAX (1U << 20)

struct KubeCall {
        KubeClient *client;
        CURL *easy;
        struct curl_slist *headers;
        char *request_body;
        KubeDataCallback on_data;
        KubeDoneCallback on_done;
        void *userdata;
        char *buf;                      /* response body (buffered calls, or a streaming call's error body) */
        size_t size, cap;
        int abort_error;                /* why on_write stopped the transfer */
        char errbuf[CURL_ERROR_SIZE];
        KubeCall *prev, *next;
};

struct KubeClient {
        CURLM *multi;
        char *server;
        char *ca_file, *ca_data, *cert_file, *cert_data, *key_file, *key_data;
        size_t ca_data_size, cert_data_size, key_data_size;
        char *token, *token_file;
        bool insecure;
        bool use_sockets;
        KubeLoopHooks hooks;
        KubeCall *calls;
        size_t n_calls;
};

static void free_secret(char *s, size_t size) {
        if (s)
                explicit_bzero(s, size);
        free(s);
}

static void call_free(KubeCall *call) {
        if (!call)
                return;
        if (call->easy)
                sym_curl_easy_cleanup(call->easy);
        sym_curl_slist_free_all(call->headers);     /* holds the bearer token */
        free(call->request_body);
        free(call->buf);
        free(call);
}

static void call_unlink(KubeClient *c, KubeCall *call) {
        if (call->prev)
                call->prev->next = call->next;
        else
                c->calls = call->next;
        if (call->next)
                call->next->prev = call->prev;
        call->prev = call->next = NULL;
        c->n_calls--;
        (void) sym_curl_multi_remove_handle(c->multi, call->easy);
}

KubeClient *kube_client_free(KubeClient *c) {
        if (!c)
                return NULL;
        while (c->calls) {
                KubeCall *call = c->calls;
                call_unlink(c, call);
                call_free(call);
        }
        if (c->multi)
                sym_curl_multi_cleanup(c->multi);
        free(c->server);
        free(c->ca_file);
        free(c->ca_data);
        free(c->cert_file);
        free(c->cert_data);
        free(c->key_file);
        free_secret(c->key_data, c->key_data_size);
        free_secret(c->token, c->token ? strlen(c->token) : 0);
        free(c->token_file);
        free(c);
        sym_curl_global_cleanup();
        return NULL;
}

static int dup_field(const char *s, size_t size, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = malloc(size + 1);
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, s, size);
        (*ret)[size] = '\0';
        return 0;
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
        KubeClient *c = userp;
        (void) easy;
        (void) socketp;
        int events = what == CURL_POLL_IN ? KUBE_POLL_IN : what == CURL_POLL_OUT ? KUBE_POLL_OUT :
                     what == CURL_POLL_INOUT ? KUBE_POLL_IN | KUBE_POLL_OUT : 0;
        if (c->hooks.watch_socket && c->hooks.watch_socket(c->hooks.userdata, s, events) < 0)
                return -1;
        return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
        KubeClient *c = userp;
        (void) multi;
        uint64_t usec = timeout_ms < 0 ? UINT64_MAX : (uint64_t) timeout_ms * USEC_PER_MSEC;
        if (c->hooks.set_timer && c->hooks.set_timer(c->hooks.userdata, usec) < 0)
                return -1;
        return 0;
}

int kube_client_new(const KubeConfig *cfg, KubeClient **ret, ColoError *err) {
        if (!cfg || !kube_server_url_is_valid(cfg->server))
                return colo_error_setf_plain(err, EINVAL, "API server '%s' is not an http(s):// URL",
                                             cfg && cfg->server ? cfg->server : "");
        /* libcurl is loaded here, by the first client, not at start: standalone mode never needs it. */
        int r = curl_dl_open(err);
        if (r < 0)
                return r;
        if (sym_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return colo_error_setf_plain(err, EIO, "cannot initialise libcurl");
        KubeClient *c = calloc(1, sizeof(*c));
        if (!c) {
                sym_curl_global_cleanup();
                return colo_error_set(err, ENOMEM, "API client");
        }
        c->ca_data_size = cfg->ca_data_size;
        c->cert_data_size = cfg->client_cert_data_size;
        c->key_data_size = cfg->client_key_data_size;
        c->insecure = cfg->insecure_skip_tls_verify;
        if ((r = dup_field(cfg->server, strlen(cfg->server), &c->server)) < 0 ||
            (r = dup_field(cfg->ca_file, cfg->ca_file ? strlen(cfg->ca_file) : 0, &c->ca_file)) < 0 ||
            (r = dup_field(cfg->ca_data, cfg->ca_data_size, &c->ca_data)) < 0 ||
            (r = dup_field(cfg->client_cert_file, cfg->client_cert_file ? strlen(cfg->client_cert_file) : 0,
                           &c->cert_file)) < 0 ||
            (r = dup_field(cfg->client_cert_data, cfg->client_cert_data_size, &c->cert_data)) < 0 ||
            (r = dup_field(cfg->client_key_file, cfg->client_key_file ? strlen(cfg->client_key_file) : 0,
                           &c->key_file)) < 0 ||
            (r = dup_field(cfg->client_key_data, cfg->client_key_data_size, &c->key_data)) < 0 ||
            (r = dup_field(cfg->token, cfg->token ? strlen(cfg->token) : 0, &c->token)) < 0 ||
            (r = dup_field(cfg->token_file, cfg->token_file ? strlen(cfg->token_file) : 0, &c->token_file)) < 0) {
                kube_client_free(c);
                return colo_error_set(err, -r, "API client");
        }
        c->multi = sym_curl_multi_init();
        if (!c->multi) {
                kube_client_free(c);
                return colo_error_set(err, ENOMEM, "API client: curl_multi_init");
        }
        *ret = c;
        return 0;
}

void kube_client_set_loop(KubeClient *c, const KubeLoopHooks *hooks) {
        c->hooks = *hooks;
        c->use_sockets = true;
        (void) sym_curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        (void) sym_curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
        (void) sym_curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
        (void) sym_curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
}

size_t kube_client_active(const KubeClient *c) {
        return c ? c->n_calls : 0;
}

static int append(KubeCall *call, const char *data, size_t n, size_t max) {
        if (call->size + n > max)
                return -EFBIG;
        if (call->size + n + 1 > call->cap) {
                size_t cap = MAX(call->cap * 2, call->size + n + 1);
                cap = MAX(cap, (size_t) 4096);
                char *b = realloc(call->buf, cap);
                if (!b)
                        return -ENOMEM;
                call->buf = b;
                call->cap = cap;
        }
        memcpy(call->buf + call->size, data, n);
        call->size += n;
        call->buf[call->size] = '\0';
        return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        KubeCall *call = userdata;
        size_t n = size * nmemb;
        long status = 0;
        int r;

        if (call->on_data) {
                (void) sym_curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
                if (status >= 200 && status < 300) {
                        if (call->on_data(call->userdata, ptr, n) < 0) {
                                call->abort_error = -ECONNABORTED;
                                return 0;
                        }
                        return n;
                }
                r = append(call, ptr, n, ERROR_BODY_MAX);
        } else
                r = append(call, ptr, n, KUBE_BODY_MAX);
        if (r < 0) {
                call->abort_error = r;
                return 0;
        }
        return n;
}

static int read_token(KubeClient *c, char **ret, ColoError *err) {
        *ret = NULL;
        if (c->token) {
                *ret = strdup(c->token);
                return *ret ? 0 : colo_error_set(err, ENOMEM, "bearer token");
        }
        if (!c->token_file)
                return 0;
        char *text = NULL;
        size_t size = 0;
        int r = read_full_file(c->token_file, KUBE_CONFIG_FILE_MAX, &text, &size, err);
        if (r < 0)
                return colo_error_wrap(err, "read the bearer token");
        while (size > 0 && (text[size - 1] == '\n' || text[size - 1] == '\r' || text[size - 1] == ' '))
                text[--size] = '\0';
        *ret = text;
        return 0;
}

static bool is_token_safe(const char *t) {
        for (; *t; t++)
                if ((unsigned char) *t < 0x20 || *t == 0x7f)
                        return false;
        return true;
}

/* Connection and TLS settings shared by every call. */
static int setup_tls(KubeClient *c, CURL *e) {
        CURLcode rc = CURLE_OK;
        if (c->ca_data) {
                struct curl_blob blob = { .data = c->ca_data, .len = c->ca_data_size, .flags = CURL_BLOB_COPY };
                /* Only the cluster's CA, not the system bundle. */
                rc |= sym_curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
                rc |= sym_curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
                rc |= sym_curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
        } else if (c->ca_file) {
                rc |= sym_curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
                rc |= sym_curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
        }
        if (c->cert_data) {
                struct curl_blob blob = { .data = c->cert_data, .len = c->cert_data_size, .flags = CURL_BLOB_COPY };
                rc |= sym_curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
                rc |= sym_curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        } else if (c->cert_file)
                rc |= sym_curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
        if (c->key_data) {
                struct curl_blob blob = { .data = c->key_data, .len = c->key_data_size, .flags = CURL_BLOB_COPY };
                rc |= sym_curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
                rc |= sym_curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
        } else if (c->key_file)
                rc |= sym_curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
        if (c->insecure) {
                rc |= sym_curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
                rc |= sym_curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        return rc == CURLE_OK ? 0 : -EINVAL;
}

/* The request's header lines into call->headers: Accept, User-Agent, no Expect, the bearer token
 * (read now: bound tokens rotate; wiped from memory once copied into the list) and the body's
 * Content-Type. */
static int call_set_headers(KubeClient *c, const KubeRequest *req, KubeCall *call, ColoError *err) {
        _cleanup_free_ char *token = NULL, *auth = NULL, *ctype = NULL;
        int r = read_token(c, &token, err);
        if (r < 0)
                return r;
        if (token && !is_token_safe(token)) {
                explicit_bzero(token, strlen(token));
                return colo_error_setf_plain(err, EINVAL, "the bearer token contains control characters");
        }
        if (token && asprintf(&auth, "Authorization: Bearer %s", token) < 0)
                auth = NULL;
        if (token)
                explicit_bzero(token, strlen(token));
        if (req->content_type && asprintf(&ctype, "Content-Type: %s", req->content_type) < 0)
                ctype = NULL;
        struct curl_slist *h = NULL;
        if ((!token || auth) && (!req->content_type || ctype)) {
                const char *lines[] = { "Accept: application/json", "User-Agent: colo-agent/" COLO_VERSION,
                                        /* no 100-continue round trip for small bodies */ "Expect:", auth, ctype };
                for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                        if (!lines[i])
                                continue;
                        struct curl_slist *n = sym_curl_slist_append(h, lines[i]);
                        if (!n) {
                                sym_curl_slist_free_all(h);
                                h = NULL;
                                break;
                        }
                        h = n;
                }
        }
        if (auth)
                explicit_bzero(auth, strlen(auth));
        call->headers = h;
        return h ? 0 : colo_error_set(err, ENOMEM, "%s %s", req->method, req->path);
}

/* libcurl's options for one call: its URL, headers and body, the write callback, timeouts and
 * keep-alive, then the client's TLS settings. -EINVAL when libcurl refuses one. */
static int call_set_options(KubeClient *c, const KubeRequest *req, KubeCall *call, const char *url) {
        CURL *e = call->easy;
        CURLcode rc = CURLE_OK;
        rc |= sym_curl_easy_setopt(e, CURLOPT_URL, url);
        rc |= sym_curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        rc |= sym_curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        rc |= sym_curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
        rc |= sym_curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        rc |= sym_curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
        rc |= sym_curl_easy_setopt(e, CURLOPT_PRIVATE, call);
        rc |= sym_curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
        rc |= sym_curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long) (KUBE_CONNECT_TIMEOUT_USEC / USEC_PER_MSEC));
        rc |= sym_curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        rc |= sym_curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
        rc |= sym_curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
        if (req->timeout_usec > 0)
                rc |= sym_curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) MAX(req->timeout_usec / USEC_PER_MSEC, (uint64_t) 1));
        if (req->body_size > 0 || strcmp(req->method, "POST") == 0) {
                rc |= sym_curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_size);
                rc |= sym_curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->request_body ? call->request_body : "");
        }
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
                rc |= sym_curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
        return rc == CURLE_OK ? setup_tls(c, e) : -EINVAL;
}

int kube_client_start(KubeClient *c, const KubeRequest *req, KubeCall **ret_call, ColoError *err) {
        if (!c || !req || !req->method || !req->method[0] || !req->path || req->path[0] != '/' || !req->on_done ||
            (req->body_size > 0 && !req->body))
                return colo_error_setf_plain(err, EINVAL, "invalid API request");

        KubeCall *call = calloc(1, sizeof(*call));
        if (!call)
                return colo_error_set(err, ENOMEM, "%s %s", req->method, req->path);
        call->client = c;
        call->on_data = req->on_data;
        call->on_done = req->on_done;
        call->userdata = req->userdata;
        int r = call_set_headers(c, req, call, err);
        if (r < 0) {
                call_free(call);
                return r;
        }
        _cleanup_free_ char *url = NULL;
        if (asprintf(&url, "%s%s", c->server, req->path) < 0)
                url = NULL;
        if (req->body_size > 0) {
                call->request_body = malloc(req->body_size);
                if (call->request_body)
                        memcpy(call->request_body, req->body, req->body_size);
        }
        call->easy = sym_curl_easy_init();
        if (!url || (req->body_size > 0 && !call->request_body) || !call->easy) {
                call_free(call);
                return colo_error_set(err, ENOMEM, "%s %s", req->method, req->path);
        }
        if (call_set_options(c, req, call, url) < 0) {
                call_free(call);
                return colo_error_setf_plain(err, EINVAL, "%s %s: libcurl rejected an option", req->method, req->path);
        }
        if (sym_curl_multi_add_handle(c->multi, call->easy) != CURLM_OK) {
                call_free(call);
                return colo_error_setf_plain(err, EIO, "%s %s: curl_multi_add_handle failed", req->method, req->path);
        }
        call->next = c->calls;
        if (c->calls)
                c->calls->prev = call;
        c->calls = call;
        c->n_calls++;
        if (ret_call)
                *ret_call = call;
        return 0;
}

void kube_call_cancel(KubeClient *c, KubeCall *call) {
        if (!c || !call)
                return;
        call_unlink(c, call);
        call_free(call);
}

static int curl_code_to_errno(CURLcode rc) {
        switch (rc) {
        case CURLE_OK:
                return 0;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return -ECONNRESET;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CIPHER:
                return -EPROTO;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

/* Delivers every completed call. */
static void drain(KubeClient *c) {
        CURLMsg *msg;
        int left;
        while ((msg = sym_curl_multi_info_read(c->multi, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                KubeCall *call = NULL;
                (void) sym_curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &call);
                if (!call)
                        continue;
                CURLcode rc = msg->data.result;
                long status = 0;
                (void) sym_curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
                curl_off_t retry_after = 0;
                if (sym_curl_easy_getinfo(call->easy, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK)
                        retry_after = 0;
                call_unlink(c, call);
                int error = rc == CURLE_OK ? 0 : call->abort_error ? call->abort_error : curl_code_to_errno(rc);
                KubeResponse resp = {
                        .status = status,
                        .error = error,
                        .message = error == 0 ? "" : call->errbuf[0] ? call->errbuf : sym_curl_easy_strerror(rc),
                        .body = call->buf ? call->buf : "",
                        .body_size = call->size,
                        /* libcurl gives 0 for no header and for "Retry-After: 0" alike; both mean now. */
                        .retry_after_sec = retry_after > 0 ? (int64_t) retry_after : -1,
                };
                if (call->abort_error == -EFBIG)
                        resp.message = "response body too large";
                else if (call->abort_error == -ECONNABORTED)
                        resp.message = "stopped by the receiver";
                call->on_done(call->userdata, &resp);
                call_free(call);
        }
}

int kube_client_perform(KubeClient *c) {
        int running = 0;
        (void) sym_curl_multi_perform(c->multi, &running);
        drain(c);
        return (int) c->n_calls;
}

int kube_client_wait(KubeClient *c, uint64_t timeout_usec) {
        int numfds = 0;
        (void) sym_curl_multi_poll(c->multi, NULL, 0, (int) MIN(timeout_usec / USEC_PER_MSEC, (uint64_t) INT32_MAX), &numfds);
        return kube_client_perform(c);
}

int kube_client_socket_action(KubeClient *c, int fd, int events) {
        int running = 0;
        int mask = (events & KUBE_POLL_IN ? CURL_CSELECT_IN : 0) | (events & KUBE_POLL_OUT ? CURL_CSELECT_OUT : 0);
        (void) sym_curl_multi_socket_action(c->multi, fd == KUBE_SOCKET_TIMEOUT ? CURL_SOCKET_TIMEOUT : fd, mask, &running);
        drain(c);
        return (int) c->n_calls;
}
