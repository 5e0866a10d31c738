/* This node's pods, kept current from the API server: a list (fieldSelector=spec.nodeName=<node>,
 * paged with limit/continue), then a watch from the list's resourceVersion with bookmarks, its
 * chunked stream parsed incrementally, one JSON event per line. The watch resumes from the last
 * resourceVersion seen (an event or a bookmark) after the server ends it or the connection drops,
 * with exponential backoff and jitter while the server cannot be reached; a 410 Gone (HTTP status
 * or ERROR event) means the history is gone and the pods are listed again.
 *
 * The pods are plain structs (JSON stops here). While the API server is unreachable the store
 * keeps the pods of the last list and events, so the agent keeps treating them as it did.
 *
 * Non-blocking: HTTP runs on the caller's KubeClient; the only timer of its own is the backoff,
 * which the caller honours by calling pod_watch_dispatch() at pod_watch_next_wakeup(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kube/kubeclient.h"
#include "k8s/pod-cgroup.h"
#include "k8s/pod-class.h"
#include "k8s/pod-limits.h"
#include "util/error.h"

#define KUBE_RESOURCE_VERSION_MAX 64
/* Longest watch event line accepted (one pod object, with room for huge annotations). */
#define KUBE_WATCH_LINE_MAX (16U << 20)

/* What colo uses of a v1.Pod. */
typedef struct KubePod {
        char uid[POD_UID_MAX];
        char namespace_[64];
        char name[254];
        char node[254];                 /* spec.nodeName, "" when not scheduled */
        char phase[16];                 /* status.phase */
        KubeQosClass qos;               /* status.qosClass; _KUBE_QOS_INVALID when not reported yet */
        PodClass cls;                   /* precedence mode: the highest marker wins */
        char class_error[256];          /* invalid markers: the pod is then treated as online normal */
        bool deleting;                  /* metadata.deletionTimestamp is set */
        int64_t offline_cpu_request_milli;      /* colo.io/offline-cpu requested (effective, as the scheduler counts) */
        int64_t offline_memory_request;         /* colo.io/offline-memory */
        int64_t cpu_limit_milli;        /* sum of the containers' limits; 0 when one has none */
        int64_t memory_limit;
        /* The pod's own limits (pod-limits.h): from colo.io/original-resources and the spec. A
         * malformed annotation leaves them 0 and says why in limits_error: the agent then caps the
         * pod at its defaults and reports it. */
        PodLimits own_limits;
        char limits_error[256];
        char resource_version[KUBE_RESOURCE_VERSION_MAX];
} KubePod;

/* Reads a v1.Pod. -EINVAL (naming the field) when metadata.uid/name/namespace are missing or
 * malformed, or a quantity or marker has the wrong type. Invalid colo markers are not an error:
 * they are kept in class_error. */
int kube_pod_from_json(const json_t *pod, KubePod *ret, ColoError *err);

/* "namespace/name" for messages. */
const char *kube_pod_ref(const KubePod *p, char *buf, size_t size);

/* True when the pod has ended and its containers are gone (phase Succeeded or Failed). */
bool kube_pod_is_terminal(const KubePod *p);

typedef enum KubeWatchEventType {
        KUBE_WATCH_ADDED,
        KUBE_WATCH_MODIFIED,
        KUBE_WATCH_DELETED,
        KUBE_WATCH_BOOKMARK,
        KUBE_WATCH_ERROR,
        _KUBE_WATCH_EVENT_TYPE_MAX,
        _KUBE_WATCH_EVENT_TYPE_INVALID = -EINVAL,
} KubeWatchEventType;

const char *kube_watch_event_type_to_string(KubeWatchEventType t);

typedef struct KubeWatchEvent {
        KubeWatchEventType type;
        KubePod pod;                    /* ADDED, MODIFIED, DELETED */
        char resource_version[KUBE_RESOURCE_VERSION_MAX];       /* all but ERROR */
        KubeStatus status;              /* ERROR */
} KubeWatchEvent;

/* Parses one line of a watch stream ({"type": ..., "object": ...}). -EINVAL naming what is wrong;
 * *ret is untouched on failure. Pure; fuzzed. */
int kube_watch_event_parse(const char *line, size_t size, KubeWatchEvent *ret, ColoError *err);

/* Parses a PodList page: its items (malloc'd, NULL when empty), metadata.resourceVersion, and
 * metadata.continue (malloc'd, NULL on the last page). Pure; fuzzed. */
int kube_pod_list_parse(const char *body, size_t size, KubePod **ret_pods, size_t *ret_n,
                        char resource_version[KUBE_RESOURCE_VERSION_MAX], char **ret_continue, ColoError *err);

/* Splits a byte stream into lines, whatever the chunking. */
typedef struct KubeLineBuffer {
        char *buf;
        size_t size, cap;
        size_t max_line;                /* 0: KUBE_WATCH_LINE_MAX */
} KubeLineBuffer;
typedef int (*KubeLineCallback)(void *userdata, const char *line, size_t size);
/* Feeds data; calls cb for each complete non-empty line (without "\n" or "\r\n"). Stops at the
 * first cb error and returns it; -EMSGSIZE when a line exceeds max_line; -ENOMEM. */
int kube_line_buffer_feed(KubeLineBuffer *b, const char *data, size_t size, KubeLineCallback cb, void *userdata);
void kube_line_buffer_reset(KubeLineBuffer *b);         /* drops a partial line, frees memory */

/* --- the watcher --- */

typedef struct PodWatch PodWatch;

typedef struct PodWatchOptions {
        const char *node_name;          /* required */
        uint64_t backoff_initial_usec;  /* 0: 500 ms */
        uint64_t backoff_max_usec;      /* 0: 30 s */
        uint64_t seed;                  /* jitter; 0: from getrandom() */
        unsigned page_size;             /* list limit; 0: 500 */
        unsigned watch_timeout_sec;     /* timeoutSeconds; 0: 5..10 minutes, jittered so nodes spread out */
        uint64_t (*now)(void);          /* monotonic clock; NULL: now_monotonic_usec() */
} PodWatchOptions;

typedef enum PodWatchChange {
        POD_WATCH_ADDED,
        POD_WATCH_UPDATED,
        POD_WATCH_REMOVED,
} PodWatchChange;

/* Told about each change of the store; pod is valid during the call only. */
typedef void (*PodWatchCallback)(void *userdata, PodWatchChange change, const KubePod *pod);

typedef enum PodWatchState {
        POD_WATCH_LIST_DUE,             /* waiting (backoff) to list */
        POD_WATCH_LISTING,
        POD_WATCH_WATCH_DUE,            /* waiting (backoff) to watch again */
        POD_WATCH_WATCHING,
        _POD_WATCH_STATE_MAX,
} PodWatchState;

const char *pod_watch_state_to_string(PodWatchState s);

typedef struct PodWatchStats {
        PodWatchState state;
        bool synced;                    /* a list completed at least once: the store is meaningful */
        bool connected;                 /* the last call reached the server (list or watch open) */
        uint64_t lists, relists_gone, watches, events, bookmarks, failures;
        unsigned failures_in_row;       /* drives the backoff; 0 after a success */
        uint64_t next_attempt_usec;     /* when the next list or watch starts (monotonic), 0 if running */
        uint64_t last_success_usec;     /* last time the server answered (monotonic), 0 never */
        char resource_version[KUBE_RESOURCE_VERSION_MAX];
        char last_error[512];
} PodWatchStats;

/* Starts listing at once (nothing is sent until client and watch are driven). cb may be NULL. The
 * client must outlive the watch. */
int pod_watch_new(KubeClient *client, const PodWatchOptions *opts, PodWatchCallback cb, void *userdata, PodWatch **ret,
                  ColoError *err);
PodWatch *pod_watch_free(PodWatch *w);  /* cancels its call; NULL-safe, returns NULL */
static inline void pod_watch_freep(PodWatch **w) {
        if (*w)
                pod_watch_free(*w);
}

/* Starts the list or watch whose backoff has expired. Call at pod_watch_next_wakeup(). */
void pod_watch_dispatch(PodWatch *w);
/* Monotonic time the next dispatch is due, UINT64_MAX when a call is running. */
uint64_t pod_watch_next_wakeup(const PodWatch *w);

/* The store: every pod on the node as last seen. Valid until the client or watch is driven. */
const KubePod *pod_watch_pods(const PodWatch *w, size_t *ret_n);
const KubePod *pod_watch_find(const PodWatch *w, const char *uid);
const PodWatchStats *pod_watch_stats(const PodWatch *w);

/* The request paths (with their ListOptions query) of a list page (continue_token NULL for the first
 * page) and of a watch from resource_version, values escaped; malloc'd, NULL when out of memory.
 * libcurl must be loaded (kube/curl-dl.h). Exposed so tests check the query against the API. */
char *pod_watch_list_path(const char *node, unsigned page_size, const char *continue_token);
char *pod_watch_watch_path(const char *node, const char *resource_version, unsigned timeout_sec);

/* The delay before retry number failures (1, 2, ...): min(max, initial * 2^(failures-1)),
 * jittered into [d/2, d) by rnd (uniform in [0, 1)). Pure. */
uint64_t pod_watch_backoff_usec(uint64_t initial_usec, uint64_t max_usec, unsigned failures, double rnd);
