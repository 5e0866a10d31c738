/* A fake Kubernetes API server for tests, on 127.0.0.1 (libmicrohttpd, one thread per
 * connection). It speaks the real wire protocol for what the node agent uses, with objects shaped
 * as in the API reference:
 *   GET   /api/v1/pods?fieldSelector=spec.nodeName%3D<node>[&limit=&continue=]   PodList
 *   GET   /api/v1/pods?fieldSelector=...&watch=true&resourceVersion=<rv>[&allowWatchBookmarks=true]
 *         [&timeoutSeconds=]   chunked stream of watch events, one JSON object per line:
 *         ADDED / MODIFIED / DELETED / BOOKMARK / ERROR (a Status, code 410 when expired)
 *   GET   /api/v1/nodes/<name>
 *   PATCH /api/v1/nodes/<name> and /api/v1/nodes/<name>/status (merge or strategic merge patch)
 *   GET   /api/v1/namespaces/<ns>/pods/<name>
 *   POST  /api/v1/namespaces/<ns>/pods/<name>/eviction   (policy/v1 Eviction; see "evictions" below)
 *   POST  /api/v1/namespaces/<ns>/events                 (core/v1 Event)
 * Objects have the real shapes (fake-apiserver-objects.c): every uid distinct, resourceVersion
 * incremented on every write, quantities stored canonical (a PATCH of "2000" reads back "2k").
 * Errors are metav1.Status objects. A resourceVersion older than the last compaction is 410 Gone:
 * as an HTTP status for lists with a continue token, and for watches as an ERROR event (the
 * default) or an HTTP 410 (fake_api_set_watch_gone_as_http()).
 *
 * Tests drive it through the control functions below (thread-safe): pods come and go, history is
 * compacted, watch streams get expired or dropped, the server goes unreachable, evictions are
 * refused with 429, and every request is recorded for assertions. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct FakeApi FakeApi;

typedef struct FakeApiOptions {
        /* TLS: PEM server certificate and key; NULL for plain HTTP. */
        const char *tls_cert_pem, *tls_key_pem;
        /* With TLS: require a client certificate signed by this CA (PEM); NULL: none asked. */
        const char *client_ca_pem;
        /* Require "Authorization: Bearer <token>" (401 otherwise); NULL: anything goes. */
        const char *token;
} FakeApiOptions;

FakeApi *fake_api_start(const FakeApiOptions *opts);        /* NULL on failure (printed) */
void fake_api_stop(FakeApi *f);
uint16_t fake_api_port(const FakeApi *f);
/* "http://127.0.0.1:<port>" or "https://..." */
const char *fake_api_url(const FakeApi *f);

/* --- objects --- */

typedef struct FakePod {
        const char *name, *namespace_, *uid, *node;
        const char *qos_class;          /* "BestEffort", "Burstable", "Guaranteed" */
        const char *class_annotation;   /* colo.io/class, or NULL */
        const char *tier_annotation;    /* colo.io/tier, or NULL */
        const char *priority_class;     /* spec.priorityClassName, or NULL */
        int64_t offline_cpu_milli;      /* colo.io/offline-cpu request (0: none) */
        int64_t offline_memory;         /* colo.io/offline-memory request */
        const char *container_id;       /* "containerd://<id>", or NULL (not started yet) */
        const char *phase;              /* NULL: "Running" */
} FakePod;

/* A v1.Pod object as the API server returns it (without resourceVersion, which the server sets). */
json_t *fake_pod_json(const FakePod *p);

/* Stores pod (stealing the reference), assigns resourceVersion, sends ADDED. Returns the new rv. */
uint64_t fake_api_add_pod(FakeApi *f, json_t *pod);
/* Replaces the pod of the same namespace/name, sends MODIFIED. 0 if there is no such pod. */
uint64_t fake_api_update_pod(FakeApi *f, json_t *pod);
/* Sets (value non-NULL) or removes an annotation of a stored pod, sends MODIFIED. */
uint64_t fake_api_annotate_pod(FakeApi *f, const char *ns, const char *name, const char *key, const char *value);
/* Removes a pod, sends DELETED. 0 if there is no such pod. */
uint64_t fake_api_delete_pod(FakeApi *f, const char *ns, const char *name);
/* A copy of the stored pod, or NULL. */
json_t *fake_api_get_pod(FakeApi *f, const char *ns, const char *name);
size_t fake_api_pod_count(FakeApi *f);
/* The current resourceVersion. */
uint64_t fake_api_resource_version(FakeApi *f);

/* A v1.Node as kubelet registers it, with capacity and allocatable cpu/memory (canonicalised). */
void fake_api_add_node(FakeApi *f, const char *name, const char *cpu, const char *memory);
/* Drops colo.io/offline-cpu and -memory from the node's capacity and allocatable, as a kubelet that re-registers the
 * node does. */
void fake_api_reset_node_resources(FakeApi *f, const char *name);
/* A copy of the stored node (patches applied), or NULL. */
json_t *fake_api_get_node(FakeApi *f, const char *name);

/* --- failure injection --- */

/* Forgets the event history: any resourceVersion before the current one is now too old. */
void fake_api_compact(FakeApi *f);
/* Sends every open watch an ERROR event (410 Expired) and ends it. */
void fake_api_expire_watches(FakeApi *f);
/* Answer too-old watches with HTTP 410 instead of an ERROR event. */
void fake_api_set_watch_gone_as_http(FakeApi *f, bool http);
/* Sends a BOOKMARK with the current resourceVersion to watches that asked for bookmarks. */
void fake_api_send_bookmark(FakeApi *f);
/* Ends every open watch stream abruptly (the TCP connection is reset mid-stream). */
void fake_api_drop_connections(FakeApi *f);
/* Stops listening (connections are refused) or listens again on the same port. */
void fake_api_set_unreachable(FakeApi *f, bool unreachable);
/* The next n evictions are answered with status: 429 as FAKE_EVICT_PDB_BLOCKED, 409 as
 * FAKE_EVICT_PDB_CONFLICT, anything else as FAKE_EVICT_INTERNAL_ERROR. */
void fake_api_fail_evictions(FakeApi *f, int status, int n);
/* Lists answer 500 for the next n requests. */
void fake_api_fail_lists(FakeApi *f, int n);
/* Lists return at most this many items per page (0: everything at once, the default unless the
 * client asks for fewer with limit=). */
void fake_api_set_page_size(FakeApi *f, size_t n);

/* --- what happened --- */

typedef struct FakeRequest {
        char method[16];
        char path[512];                 /* without the query */
        char query[1024];               /* decoded "k=v&k=v", for assertions */
        char content_type[128];
        char *body;                     /* malloc'd, NUL-terminated */
        long status;                    /* what the server answered */
} FakeRequest;

/* Requests whose method matches and whose path starts with prefix (either may be NULL). */
size_t fake_api_count_requests(FakeApi *f, const char *method, const char *path_prefix);
/* A copy of the i-th such request (free with fake_request_free()); false if there is none. */
bool fake_api_get_request(FakeApi *f, const char *method, const char *path_prefix, size_t i, FakeRequest *ret);
void fake_request_free(FakeRequest *r);
/* Open watch streams right now. */
size_t fake_api_open_watches(FakeApi *f);
/* Waits (up to timeout_ms) until pred(f, userdata) holds; returns whether it did. */
bool fake_api_wait_for(FakeApi *f, bool (*pred)(FakeApi *f, void *userdata), void *userdata, int timeout_ms);

/* --- evictions and graceful deletion (fake-apiserver-evict.c) ---
 * As pkg/registry/core/pod/storage/eviction.go: a pod that is Pending, Succeeded, Failed or already
 * terminating is deleted without asking a disruption budget; otherwise the budget is asked (the
 * refusals below), then the pod is deleted with the Eviction's deleteOptions, whose
 * preconditions.uid / resourceVersion must match (409 Conflict otherwise). Deletion is graceful:
 * metadata.deletionTimestamp (now + grace) and deletionGracePeriodSeconds are set, the pod stays
 * listed and is sent as MODIFIED, and is deleted (DELETED) when its grace period ends or
 * fake_api_finish_termination() says the kubelet is done. The grace period is
 * deleteOptions.gracePeriodSeconds, else spec.terminationGracePeriodSeconds, else 30; 0 for a pod
 * with no node or in a terminal phase. Accepted: 201 with a Success Status. */
typedef enum FakeEvictRefusal {
        FAKE_EVICT_PDB_BLOCKED,         /* 429 TooManyRequests: disruptionsAllowed is 0 */
        FAKE_EVICT_PDB_PROCESSING,      /* 429 with retryAfterSeconds 10 and Retry-After: 10 (the budget's
                                         * status is behind its generation) */
        FAKE_EVICT_PDB_CONFLICT,        /* 409 Conflict on poddisruptionbudgets.policy: updating the budget
                                         * kept conflicting */
        FAKE_EVICT_MULTIPLE_PDBS,       /* 500: more than one budget selects the pod */
        FAKE_EVICT_INTERNAL_ERROR,      /* 500 InternalError */
        _FAKE_EVICT_REFUSAL_MAX,
} FakeEvictRefusal;

/* The next n evictions that ask a disruption budget are refused with why. */
void fake_api_refuse_evictions(FakeApi *f, FakeEvictRefusal why, int n);
/* The kubelet reports the terminating pod's containers gone: it is deleted now (DELETED). false if
 * no pod of that name is terminating. */
bool fake_api_finish_termination(FakeApi *f, const char *ns, const char *name);
/* Pods terminating now. */
size_t fake_api_terminating_count(FakeApi *f);
/* Sends a BOOKMARK every interval_ms to the watches that asked for bookmarks (the real server's
 * watch cache sends one about every minute); 0 stops. */
void fake_api_set_bookmark_interval(FakeApi *f, unsigned interval_ms);
