/* A small client of the Kubernetes API server on libcurl: where the server is and how to
 * authenticate (in-cluster service account, or a kubeconfig file), and asynchronous requests on
 * one curl multi handle, so the node agent never blocks its event loop on the network. A request
 * either buffers its body or streams it to a callback (watches); completions are delivered from
 * kube_client_perform() / kube_client_socket_action(), never from inside libcurl.
 *
 * Two ways to drive it: an event loop registers the sockets and the timeout libcurl asks for
 * (kube_client_set_loop(), then kube_client_socket_action() when one fires), or a simple loop
 * calls kube_client_wait() (tests). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Where a pod's service account is mounted. */
#define KUBE_SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* Largest kubeconfig or service account file read. */
#define KUBE_CONFIG_FILE_MAX (1U << 20)
/* Lists and mappings nested deeper than this are refused before a kubeconfig is built (a real
 * one nests about 7: root, users, an entry, user, exec, env, an item). */
#define KUBE_CONFIG_DEPTH_MAX 32
/* Largest buffered response body (a node's pod list is a few MiB at most). */
#define KUBE_BODY_MAX (64U << 20)
/* Connection attempts give up after this long; the caller retries with backoff. */
#define KUBE_CONNECT_TIMEOUT_USEC (10 * USEC_PER_SEC)

/* Connection settings, from either source. Strings are malloc'd; NULL when unset. */
typedef struct KubeConfig {
        char *server;                   /* "https://10.96.0.1:443", without a trailing slash */
        char *ca_file;                  /* PEM bundle file, or NULL */
        char *ca_data;                  /* PEM bundle (decoded certificate-authority-data), or NULL */
        size_t ca_data_size;
        char *client_cert_file, *client_key_file;
        char *client_cert_data, *client_key_data;       /* decoded PEM, or NULL */
        size_t client_cert_data_size, client_key_data_size;
        char *token;                    /* bearer token, or NULL */
        char *token_file;               /* re-read for every request (bound tokens rotate), or NULL */
        bool insecure_skip_tls_verify;
        char *namespace_;               /* the service account's or the context's namespace, or NULL */
        char source[512];               /* "in-cluster" or "kubeconfig '<file>' context '<name>'", for messages */
} KubeConfig;

KubeConfig *kube_config_free(KubeConfig *c);    /* NULL-safe, returns NULL */
static inline void kube_config_freep(KubeConfig **c) {
        if (*c)
                kube_config_free(*c);
}

typedef struct KubeInClusterOptions {
        const char *dir;                /* NULL: KUBE_SERVICE_ACCOUNT_DIR (token, ca.crt, namespace) */
        const char *host;               /* NULL: $KUBERNETES_SERVICE_HOST */
        const char *port;               /* NULL: $KUBERNETES_SERVICE_PORT */
} KubeInClusterOptions;

/* The in-cluster configuration: https://<host>:<port> (IPv6 hosts bracketed), <dir>/token (must
 * be readable now; re-read for each request), <dir>/ca.crt, <dir>/namespace (optional). -ENXIO
 * when host or port is unset (not running in a pod), -ENOENT/-EACCES for the files, -EINVAL for a
 * malformed host or port. opts may be NULL. */
int kube_config_from_cluster(const KubeInClusterOptions *opts, KubeConfig **ret, ColoError *err);

/* Parses a kubeconfig document (YAML): the context named context, or current-context when
 * context is NULL, its cluster (server, certificate-authority(-data), insecure-skip-tls-verify)
 * and user (client-certificate(-data), client-key(-data), token, tokenFile). *-data fields win
 * over their file counterparts, as in kubectl; relative file paths are resolved against the
 * directory of filename. exec and auth-provider users are refused (-EOPNOTSUPP). Errors name
 * filename, the line and the key. Pure apart from nothing: files named inside are not read here. */
int kube_config_parse_kubeconfig(const char *text, size_t size, const char *filename, const char *context,
                                 KubeConfig **ret, ColoError *err);

/* Reads path and parses it as above. */
int kube_config_load_kubeconfig(const char *path, const char *context, KubeConfig **ret, ColoError *err);

/* An http:// or https:// URL with a host and no spaces or control characters. */
bool kube_server_url_is_valid(const char *s);

/* kubeconfig_path "" or NULL: in-cluster; else that file's current context. */
int kube_config_load(const char *kubeconfig_path, KubeConfig **ret, ColoError *err);

/* --- metav1.Status, the body of API errors and of watch ERROR events --- */

typedef struct KubeStatus {
        int code;                       /* HTTP status code it stands for, 0 if absent */
        char reason[64];                /* "Expired", "NotFound", "TooManyRequests", ... */
        char message[512];
        char details_kind[64];          /* details.kind: the resource, "pods", "poddisruptionbudgets", ... */
        int retry_after_seconds;        /* details.retryAfterSeconds, 0 if absent (negative or absurd: 0) */
} KubeStatus;

/* Parses a Status object from JSON text. -EINVAL when it is not one. */
int kube_status_parse(const char *text, size_t size, KubeStatus *ret);

/* --- requests --- */

typedef struct KubeClient KubeClient;
typedef struct KubeCall KubeCall;

typedef struct KubeResponse {
        long status;                    /* HTTP status; 0 when no response arrived */
        int error;                      /* 0, or a negative errno: -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH,
                                         * -ECONNRESET, -EPROTO (TLS), -ECONNABORTED (the data callback
                                         * stopped it), -EFBIG (body too large), -EIO */
        const char *message;            /* libcurl's explanation of error, "" when none */
        const char *body;               /* buffered body, NUL-terminated ("" for streamed 2xx bodies) */
        size_t body_size;
        int64_t retry_after_sec;        /* the Retry-After header in seconds, -1 when absent */
} KubeResponse;

/* Receives a streamed 2xx body in arbitrary pieces. Return < 0 to stop the call (it then
 * completes with error -ECONNABORTED). Must not start or cancel calls. */
typedef int (*KubeDataCallback)(void *userdata, const char *data, size_t size);
/* Called once when the call ends, unless it was cancelled. May start and cancel calls. */
typedef void (*KubeDoneCallback)(void *userdata, const KubeResponse *resp);

typedef struct KubeRequest {
        const char *method;             /* "GET", "POST", "PATCH", ... */
        const char *path;               /* "/api/v1/pods?watch=true&..." (query values escaped) */
        const char *content_type;       /* for body; NULL: none */
        const char *body;
        size_t body_size;
        uint64_t timeout_usec;          /* whole call; 0: no limit (watches end server-side) */
        KubeDataCallback on_data;       /* NULL: buffer the body (up to KUBE_BODY_MAX) */
        KubeDoneCallback on_done;
        void *userdata;
} KubeRequest;

/* Copies what it needs from cfg. The first client loads libcurl (kube/curl-dl.h). -EINVAL for a
 * server that is not http(s)://, -EOPNOTSUPP / -ELIBBAD when libcurl cannot be loaded, -ENOMEM. */
int kube_client_new(const KubeConfig *cfg, KubeClient **ret, ColoError *err);
/* Cancels every call in flight (no callbacks), NULL-safe, returns NULL. */
KubeClient *kube_client_free(KubeClient *c);
static inline void kube_client_freep(KubeClient **c) {
        if (*c)
                kube_client_free(*c);
}

/* Starts a call. Nothing is sent until the client is driven. *ret_call (may be NULL) stays valid
 * until on_done returns or kube_call_cancel(). -EINVAL (bad request), -EIO (the token file is
 * unreadable), -ENOMEM. */
int kube_client_start(KubeClient *c, const KubeRequest *req, KubeCall **ret_call, ColoError *err);
/* Stops a call in flight without calling its callbacks. */
void kube_call_cancel(KubeClient *c, KubeCall *call);
/* Calls in flight. */
size_t kube_client_active(const KubeClient *c);

/* Drives transfers without waiting and delivers completed calls. Returns calls still in flight. */
int kube_client_perform(KubeClient *c);
/* Waits up to timeout_usec for network activity, then as kube_client_perform(). */
int kube_client_wait(KubeClient *c, uint64_t timeout_usec);

/* Event-loop integration. */
enum {
        KUBE_POLL_IN = 1 << 0,
        KUBE_POLL_OUT = 1 << 1,
};
#define KUBE_SOCKET_TIMEOUT (-1)
typedef struct KubeLoopHooks {
        /* Watch fd for events (KUBE_POLL_*), or stop watching it (events 0). */
        int (*watch_socket)(void *userdata, int fd, int events);
        /* Call kube_client_socket_action(c, KUBE_SOCKET_TIMEOUT, 0) after timeout_usec; UINT64_MAX:
         * cancel the timer. */
        int (*set_timer)(void *userdata, uint64_t timeout_usec);
        void *userdata;
} KubeLoopHooks;
/* Switches the client to the socket API; call before starting any call. */
void kube_client_set_loop(KubeClient *c, const KubeLoopHooks *hooks);
/* An fd became ready (or fd == KUBE_SOCKET_TIMEOUT: the timer fired). Delivers completions. */
int kube_client_socket_action(KubeClient *c, int fd, int events);
