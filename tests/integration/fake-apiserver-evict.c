/* The fake API server's eviction subresource and graceful pod deletion, as the real server does
 * them (pkg/registry/core/pod/storage/eviction.go, the pod strategy's graceful delete): disruption
 * budget refusals injected by tests, UID and resourceVersion preconditions, pods that stay
 * Terminating for their grace period, and periodic watch bookmarks. One reaper thread ends grace
 * periods and sends the bookmarks. Errors are metav1.Status objects built as the apimachinery
 * error constructors build them (NewNotFound, NewConflict, NewTooManyRequests, ...). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake-apiserver-internal.h"

#define REAPER_TICK_USEC 20000
#define DEFAULT_GRACE_SECONDS 30
#define PDB_NAME "colo-test-pdb"

typedef struct Terminating {
        char ns[256], name[256], uid[128];
        uint64_t deadline_usec;         /* CLOCK_MONOTONIC */
} Terminating;

struct FakeEvict {
        FakeApi *f;
        pthread_t reaper;
        bool stop;                      /* all fields under the server's lock */
        FakeEvictRefusal refusal;
        int refusal_n;
        Terminating *terms;
        size_t n_terms;
        unsigned bookmark_interval_ms;
        uint64_t next_bookmark_usec;
};

static uint64_t monotonic_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static const char *meta_str(const json_t *obj, const char *key) {
        return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

/* A Failure Status; details (stolen) may be NULL, reason "" is left out as Go's omitempty does. */
static json_t *failure(int code, const char *reason, json_t *details, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s}", "kind", "Status", "apiVersion", "v1", "metadata", "status",
                               "Failure", "message", msg);
        if (reason[0])
                json_object_set_new(st, "reason", json_string(reason));
        if (details)
                json_object_set_new(st, "details", details);
        json_object_set_new(st, "code", json_integer(code));
        return st;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned code, json_t *body, int retry_after_sec,
                               unsigned *status) {
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "Audit-Id", "00000000-0000-4000-8000-000000000000");
        if (retry_after_sec > 0) {
                /* The server copies details.retryAfterSeconds into the header. */
                char v[16];
                snprintf(v, sizeof(v), "%d", retry_after_sec);
                MHD_add_response_header(resp, "Retry-After", v);
        }
        enum MHD_Result r = MHD_queue_response(conn, code, resp);
        MHD_destroy_response(resp);
        *status = code;
        return r;
}

static json_t *not_found(const char *name) {
        return failure(404, "NotFound", json_pack("{s:s, s:s}", "name", name, "kind", "pods"), "pods \"%s\" not found", name);
}

enum MHD_Result fake_evict_handle_get_pod(FakeApi *f, struct MHD_Connection *conn, const char *ns, const char *name,
                                          unsigned *status) {
        fake_api_lock(f);
        json_t *pod = fake_api_pod_locked(f, ns, name);
        json_t *copy = pod ? json_deep_copy(pod) : NULL;
        fake_api_unlock(f);
        return copy ? respond(conn, 200, copy, 0, status) : respond(conn, 404, not_found(name), 0, status);
}

/* The refusal a disruption budget gives, as eviction.go's checkAndDecrement() and its callers. */
static json_t *refusal_status(FakeEvictRefusal why, int *ret_code, int *ret_retry_after) {
        *ret_retry_after = 0;
        switch (why) {
        case FAKE_EVICT_PDB_BLOCKED:
                *ret_code = 429;
                return failure(429, "TooManyRequests",
                               json_pack("{s:[{s:s, s:s}]}", "causes", "reason", "DisruptionBudget", "message",
                                         "The disruption budget " PDB_NAME " needs 1 healthy pods and has 1 currently"),
                               "Cannot evict pod as it would violate the pod's disruption budget.");
        case FAKE_EVICT_PDB_PROCESSING:
                *ret_code = 429;
                *ret_retry_after = 10;
                return failure(429, "TooManyRequests",
                               json_pack("{s:[{s:s, s:s}], s:i}", "causes", "reason", "DisruptionBudget", "message",
                                         "The disruption budget " PDB_NAME " is still being processed by the server.",
                                         "retryAfterSeconds", 10),
                               "Cannot evict pod as it would violate the pod's disruption budget.");
        case FAKE_EVICT_PDB_CONFLICT:
                *ret_code = 409;
                return failure(409, "Conflict",
                               json_pack("{s:s, s:s, s:s}", "name", PDB_NAME, "group", "policy", "kind",
                                         "poddisruptionbudgets"),
                               "Operation cannot be fulfilled on poddisruptionbudgets.policy \"%s\": the object has been "
                               "modified; please apply your changes to the latest version and try again", PDB_NAME);
        case FAKE_EVICT_MULTIPLE_PDBS:
                /* Returned as a Status, not an error: no reason, no details. */
                *ret_code = 500;
                return failure(500, "", NULL, "This pod has more than one PodDisruptionBudget, which the eviction "
                                              "subresource does not support.");
        case FAKE_EVICT_INTERNAL_ERROR:
        default:
                *ret_code = 500;
                return failure(500, "InternalError", json_pack("{s:[{s:s}]}", "causes", "message", "etcdserver: request timed out"),
                               "Internal error occurred: etcdserver: request timed out");
        }
}

static bool phase_is(const json_t *pod, const char *phase) {
        const char *p = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
        return p && strcmp(p, phase) == 0;
}

/* eviction.go canIgnorePDB(): the pod causes no (further) disruption. */
static bool can_ignore_pdb(const json_t *pod) {
        return phase_is(pod, "Succeeded") || phase_is(pod, "Failed") || phase_is(pod, "Pending") ||
               json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp");
}

/* The storage layer's precondition check; NULL when they hold. */
static json_t *precondition_failure(const json_t *pod, const json_t *delete_options, const char *ns, const char *name) {
        json_t *pre = json_object_get(delete_options, "preconditions");
        const char *uid = json_string_value(json_object_get(pre, "uid"));
        const char *rv = json_string_value(json_object_get(pre, "resourceVersion"));
        const char *have_uid = meta_str(pod, "uid") ?: "", *have_rv = meta_str(pod, "resourceVersion") ?: "";
        char why[512];
        if (uid && strcmp(uid, have_uid) != 0)
                snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, UID in object meta: %s", uid,
                         have_uid);
        else if (rv && strcmp(rv, have_rv) != 0)
                snprintf(why, sizeof(why), "Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in "
                                           "object meta: %s", rv, have_rv);
        else
                return NULL;
        return failure(409, "Conflict", json_pack("{s:s, s:s}", "name", name, "kind", "pods"),
                       "Operation cannot be fulfilled on pods \"%s\": StorageError: invalid object, Code: 4, Key: "
                       "/registry/pods/%s/%s, ResourceVersion: 0, AdditionalErrorMsg: %s", name, ns, name, why);
}

/* The pod strategy's grace period for a delete with these options. */
static int64_t grace_seconds(const json_t *pod, const json_t *delete_options) {
        const json_t *spec = json_object_get(pod, "spec");
        const char *node = json_string_value(json_object_get(spec, "nodeName"));
        if (!node || !node[0] || phase_is(pod, "Succeeded") || phase_is(pod, "Failed"))
                return 0;
        json_t *g = json_object_get(delete_options, "gracePeriodSeconds");
        if (json_is_integer(g))
                return json_integer_value(g) < 0 ? 1 : json_integer_value(g);  /* negative means 1 */
        json_t *t = json_object_get(spec, "terminationGracePeriodSeconds");
        return json_is_integer(t) ? json_integer_value(t) : DEFAULT_GRACE_SECONDS;
}

static Terminating *find_term(FakeEvict *e, const char *ns, const char *name) {
        for (size_t i = 0; i < e->n_terms; i++)
                if (strcmp(e->terms[i].ns, ns) == 0 && strcmp(e->terms[i].name, name) == 0)
                        return &e->terms[i];
        return NULL;
}

static void drop_term(FakeEvict *e, Terminating *t) {
        *t = e->terms[--e->n_terms];
}

/* Graceful deletion (caller holds the lock): deletionTimestamp = now + grace, MODIFIED, then
 * DELETED when the grace period ends; a later delete may only shorten it. */
static void delete_gracefully(FakeApi *f, json_t *pod, const char *ns, const char *name, int64_t grace) {
        FakeEvict *e = fake_api_evict_state(f);
        json_t *meta = json_object_get(pod, "metadata");
        Terminating *t = find_term(e, ns, name);
        json_t *current = json_object_get(meta, "deletionGracePeriodSeconds");
        if (t && json_is_integer(current) && json_integer_value(current) <= grace)
                return;
        if (grace == 0) {
                if (t)
                        drop_term(e, t);
                fake_api_remove_pod_locked(f, ns, name);
                return;
        }
        char ts[32];
        time_t at = time(NULL) + (time_t) grace;
        struct tm tm;
        gmtime_r(&at, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(meta, "deletionTimestamp", json_string(ts));
        json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(grace));
        fake_api_emit_locked(f, "MODIFIED", pod);
        if (!t) {
                Terminating *n = realloc(e->terms, (e->n_terms + 1) * sizeof(*n));
                if (!n)
                        abort();
                e->terms = n;
                t = &e->terms[e->n_terms++];
                *t = (Terminating) {};
                snprintf(t->ns, sizeof(t->ns), "%s", ns);
                snprintf(t->name, sizeof(t->name), "%s", name);
                snprintf(t->uid, sizeof(t->uid), "%s", meta_str(pod, "uid") ?: "");
        }
        t->deadline_usec = monotonic_usec() + (uint64_t) grace * 1000000ULL;
}

static bool is_eviction_for(const json_t *body, const char *ns, const char *name) {
        const char *api = json_string_value(json_object_get(body, "apiVersion"));
        const char *kind = json_string_value(json_object_get(body, "kind"));
        const char *bname = meta_str(body, "name"), *bns = meta_str(body, "namespace");
        return api && (strcmp(api, "policy/v1") == 0 || strcmp(api, "policy/v1beta1") == 0) && kind &&
               strcmp(kind, "Eviction") == 0 && bname && strcmp(bname, name) == 0 && (!bns || strcmp(bns, ns) == 0);
}

enum MHD_Result fake_evict_handle_eviction(FakeApi *f, struct MHD_Connection *conn, const char *ns, const char *name,
                                           const char *body, size_t size, unsigned *status) {
        json_t *ev = body ? json_loadb(body, size, 0, NULL) : NULL;
        if (!is_eviction_for(ev, ns, name)) {
                json_decref(ev);
                return respond(conn, 400, failure(400, "BadRequest", NULL, "name in URL does not match name in Eviction "
                                                  "object, or the body is not a policy/v1 Eviction"), 0, status);
        }
        json_t *opts = json_object_get(ev, "deleteOptions");
        FakeEvict *e = fake_api_evict_state(f);
        fake_api_lock(f);
        json_t *pod = fake_api_pod_locked(f, ns, name);
        json_t *answer = NULL;
        int code = 201, retry_after = 0;
        if (!pod) {
                answer = not_found(name);
                code = 404;
        } else if (!can_ignore_pdb(pod) && e->refusal_n > 0) {
                e->refusal_n--;
                answer = refusal_status(e->refusal, &code, &retry_after);
        } else if ((answer = precondition_failure(pod, opts, ns, name)))
                code = 409;
        else
                delete_gracefully(f, pod, ns, name, grace_seconds(pod, opts));
        fake_api_unlock(f);
        json_decref(ev);
        if (!answer)
                answer = json_pack("{s:s, s:s, s:{}, s:s, s:i}", "kind", "Status", "apiVersion", "v1", "metadata", "status",
                                   "Success", "code", 201);
        return respond(conn, (unsigned) code, answer, retry_after, status);
}

/* --- control --- */

void fake_api_refuse_evictions(FakeApi *f, FakeEvictRefusal why, int n) {
        FakeEvict *e = fake_api_evict_state(f);
        fake_api_lock(f);
        e->refusal = why;
        e->refusal_n = n;
        fake_api_unlock(f);
}

void fake_api_fail_evictions(FakeApi *f, int status, int n) {
        fake_api_refuse_evictions(f, status == 429 ? FAKE_EVICT_PDB_BLOCKED : status == 409 ? FAKE_EVICT_PDB_CONFLICT :
                                                                                             FAKE_EVICT_INTERNAL_ERROR, n);
}

/* Caller holds the lock. Deletes the pod of t if it is still the one that was terminating. */
static void end_termination(FakeApi *f, FakeEvict *e, Terminating *t) {
        json_t *pod = fake_api_pod_locked(f, t->ns, t->name);
        const char *uid = pod ? meta_str(pod, "uid") : NULL;
        if (uid && strcmp(uid, t->uid) == 0)
                fake_api_remove_pod_locked(f, t->ns, t->name);
        drop_term(e, t);
}

bool fake_api_finish_termination(FakeApi *f, const char *ns, const char *name) {
        FakeEvict *e = fake_api_evict_state(f);
        fake_api_lock(f);
        Terminating *t = find_term(e, ns, name);
        if (t)
                end_termination(f, e, t);
        fake_api_unlock(f);
        return t != NULL;
}

size_t fake_api_terminating_count(FakeApi *f) {
        FakeEvict *e = fake_api_evict_state(f);
        fake_api_lock(f);
        size_t n = e->n_terms;
        fake_api_unlock(f);
        return n;
}

void fake_api_set_bookmark_interval(FakeApi *f, unsigned interval_ms) {
        FakeEvict *e = fake_api_evict_state(f);
        fake_api_lock(f);
        e->bookmark_interval_ms = interval_ms;
        e->next_bookmark_usec = monotonic_usec() + (uint64_t) interval_ms * 1000ULL;
        fake_api_unlock(f);
}

static void *reaper(void *userdata) {
        FakeEvict *e = userdata;
        FakeApi *f = e->f;
        for (;;) {
                usleep(REAPER_TICK_USEC);
                uint64_t now = monotonic_usec();
                bool bookmark = false;
                fake_api_lock(f);
                if (e->stop) {
                        fake_api_unlock(f);
                        return NULL;
                }
                for (size_t i = 0; i < e->n_terms;) {
                        if (e->terms[i].deadline_usec <= now)
                                end_termination(f, e, &e->terms[i]);    /* the last one moved to i */
                        else
                                i++;
                }
                if (e->bookmark_interval_ms > 0 && now >= e->next_bookmark_usec) {
                        e->next_bookmark_usec = now + (uint64_t) e->bookmark_interval_ms * 1000ULL;
                        bookmark = true;
                }
                fake_api_unlock(f);
                if (bookmark)
                        fake_api_send_bookmark(f);
        }
}

FakeEvict *fake_evict_start(FakeApi *f) {
        FakeEvict *e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->f = f;
        if (pthread_create(&e->reaper, NULL, reaper, e) != 0) {
                free(e);
                return NULL;
        }
        return e;
}

void fake_evict_stop(FakeEvict *e) {
        if (!e)
                return;
        fake_api_lock(e->f);
        e->stop = true;
        fake_api_unlock(e->f);
        pthread_join(e->reaper, NULL);
        free(e->terms);
        free(e);
}
