/* Evictions through the Eviction API, with retries for disruption budgets and errors, a re-read
 * of the pod after a 409, and the Event that tells the pod's owner why. What to do with each
 * answer is decided by kube_eviction_decide() (k8s-evict-retry.c); this file only sends and
 * receives. Each request lives in its own heap slot, so completion callbacks hold a stable
 * pointer while the list grows and shrinks. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "kube/k8s-event.h"
#include "kube/k8s-evict.h"
#include "k8s/node-annotation.h"
#include "util/fileio.h"
#include "util/macro.h"

typedef struct EvictSlot {
        KubeEvictor *owner;
        KubeEviction ev;
        KubeCall *call;                 /* the eviction or the Event being posted */
} EvictSlot;

struct KubeEvictor {
        KubeClient *client;
        KubeEvictorOptions opts;
        char node[254];
        EvictSlot **slots;
        size_t n_slots;
        KubeEvictorStats stats;
};

static uint64_t now(const KubeEvictor *e) {
        return e->opts.now ? e->opts.now() : now_monotonic_usec();
}

int kube_eviction_body(const KubeEviction *ev, int64_t grace_period_seconds, char **ret, ColoError *err) {
        json_t *opts = json_pack("{s:{s:s}}", "preconditions", "uid", ev->uid);
        if (opts && grace_period_seconds >= 0)
                json_object_set_new(opts, "gracePeriodSeconds", json_integer(grace_period_seconds));
        json_t *body = opts ? json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "policy/v1", "kind", "Eviction",
                                        "metadata", "name", ev->name, "namespace", ev->namespace_, "deleteOptions", opts)
                            : NULL;
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (!text)
                return colo_error_set(err, ENOMEM, "eviction body");
        *ret = text;
        return 0;
}

int kube_eviction_event_body(const KubeEviction *ev, const char *node_name, uint64_t realtime_usec, char **ret,
                             ColoError *err) {
        char message[512];
        snprintf(message, sizeof(message), "Evicted by colo (offline, tier %s): %s", workload_tier_to_string(ev->tier) ?: "?",
                 ev->reason);
        KubeEventSpec spec = {
                .namespace_ = ev->namespace_, .name = ev->name, .uid = ev->uid, .resource_version = ev->resource_version,
                .reason = EVICT_EVENT_REASON, .message = message, .type = "Warning", .action = "Evict",
                .node_name = node_name, .realtime_usec = realtime_usec,
        };
        int r = kube_event_body(&spec, ret, err);
        if (r < 0 && err)
                (void) colo_error_wrap(err, "eviction event");
        return r;
}

static EvictSlot *find_slot(const KubeEvictor *e, const char *uid, size_t *ret_index) {
        for (size_t i = 0; i < e->n_slots; i++)
                if (strcmp(e->slots[i]->ev.uid, uid) == 0) {
                        if (ret_index)
                                *ret_index = i;
                        return e->slots[i];
                }
        return NULL;
}

static void note_error(KubeEvictor *e, EvictSlot *s, const char *what, const KubeResponse *resp) {
        KubeStatus st;
        char text[256];
        if (resp->error < 0)
                snprintf(text, sizeof(text), "%s", resp->message);
        else if (kube_status_parse(resp->body, resp->body_size, &st) >= 0 && st.message[0])
                snprintf(text, sizeof(text), "HTTP %ld %s: %s", resp->status, st.reason, st.message);
        else
                snprintf(text, sizeof(text), "HTTP %ld", resp->status);
        snprintf(s->ev.last_error, sizeof(s->ev.last_error), "%s", text);
        snprintf(e->stats.last_error, sizeof(e->stats.last_error), "%s %s/%s: %s", what, s->ev.namespace_, s->ev.name,
                 text);
}

static KubeEvictRetryPolicy retry_policy(const KubeEvictor *e) {
        return (KubeEvictRetryPolicy) { .initial_usec = e->opts.retry_initial_usec, .max_usec = e->opts.retry_max_usec,
                                        .retry_after_max_usec = EVICT_RETRY_AFTER_MAX_USEC };
}

static uint64_t retry_delay(const KubeEvictor *e, unsigned attempts) {
        KubeEvictRetryPolicy p = retry_policy(e);
        return kube_eviction_backoff_usec(&p, MAX(attempts, 1U), 0);
}

static void told(KubeEvictor *e, const EvictSlot *s, KubeEvictAction action) {
        if (e->opts.on_answer)
                e->opts.on_answer(e->opts.userdata, &s->ev, action);
}

static void post_event(KubeEvictor *e, EvictSlot *s);

static void on_event_done(void *userdata, const KubeResponse *resp) {
        EvictSlot *s = userdata;
        KubeEvictor *e = s->owner;
        s->call = NULL;
        if (resp->error == 0 && resp->status >= 200 && resp->status < 300) {
                s->ev.event_posted = true;
                e->stats.events_posted++;
                return;
        }
        e->stats.event_failures++;
        note_error(e, s, "record the eviction event of", resp);
        /* Retried from kube_evictor_dispatch() while attempts remain. */
        s->ev.next_attempt_usec = now(e) + retry_delay(e, s->ev.event_attempts);
}

static void post_event(KubeEvictor *e, EvictSlot *s) {
        _cleanup_free_ char *path = NULL, *body = NULL;
        ColoError err = {};
        s->ev.event_attempts++;
        if (asprintf(&path, "/api/v1/namespaces/%s/events", s->ev.namespace_) < 0)
                path = NULL;
        if (!path || kube_eviction_event_body(&s->ev, e->node, s->ev.requested_realtime_usec, &body, &err) < 0)
                return;
        KubeRequest req = {
                .method = "POST", .path = path, .content_type = "application/json", .body = body,
                .body_size = strlen(body), .timeout_usec = 30 * USEC_PER_SEC, .on_done = on_event_done, .userdata = s,
        };
        if (kube_client_start(e->client, &req, &s->call, &err) < 0) {
                e->stats.event_failures++;
                snprintf(e->stats.last_error, sizeof(e->stats.last_error), "eviction event: %s", colo_error_msg(&err));
        }
}

static void send_recheck(KubeEvictor *e, EvictSlot *s);

/* Applies a decision on an answer to the eviction or to the re-read after a 409 (recheck);
 * still_there: the re-read found this very pod. */
static void apply(KubeEvictor *e, EvictSlot *s, const KubeEvictDecision *d, const KubeResponse *resp, bool recheck,
                  bool still_there) {
        s->ev.still_there = false;
        switch (d->action) {
        case KUBE_EVICT_ACCEPT:
                s->ev.state = KUBE_EVICTION_ACCEPTED;
                s->ev.accepted_usec = now(e);
                s->ev.last_error[0] = '\0';
                e->stats.accepted++;
                told(e, s, d->action);
                post_event(e, s);
                return;
        case KUBE_EVICT_GONE:
                /* Gone already, or after a 409 the name is free or belongs to another pod. */
                s->ev.state = KUBE_EVICTION_GONE;
                s->ev.replaced = recheck && resp->status == 200;
                if (s->ev.replaced) {
                        e->stats.replaced++;
                        snprintf(s->ev.last_error, sizeof(s->ev.last_error), "another pod has the name now");
                } else {
                        e->stats.gone++;
                        note_error(e, s, recheck ? "re-read" : "evict", resp);
                }
                break;
        case KUBE_EVICT_RECHECK:
                s->ev.conflicts++;
                e->stats.conflicts++;
                note_error(e, s, "evict", resp);
                told(e, s, d->action);
                send_recheck(e, s);
                return;
        case KUBE_EVICT_BLOCKED:
                s->ev.blocked++;
                e->stats.blocked++;
                note_error(e, s, "evict", resp);
                s->ev.state = KUBE_EVICTION_PENDING;
                s->ev.next_attempt_usec = d->next_attempt_usec;
                break;
        case KUBE_EVICT_RETRY:
        default:
                /* After a 409, the same pod still being there is no failure: the conflict was counted. */
                s->ev.still_there = recheck && still_there;
                if (!s->ev.still_there) {
                        e->stats.failures++;
                        note_error(e, s, recheck ? "re-read" : "evict", resp);
                }
                s->ev.state = KUBE_EVICTION_PENDING;
                s->ev.next_attempt_usec = d->next_attempt_usec;
                break;
        }
        told(e, s, d->action);
}

static int64_t retry_after(const KubeResponse *resp) {
        KubeStatus st;
        if (resp->error == 0 && resp->retry_after_sec > 0)
                return resp->retry_after_sec;
        if (resp->error == 0 && kube_status_parse(resp->body, resp->body_size, &st) >= 0)
                return st.retry_after_seconds;
        return 0;
}

static void on_evict_done(void *userdata, const KubeResponse *resp) {
        EvictSlot *s = userdata;
        KubeEvictor *e = s->owner;
        s->call = NULL;
        KubeEvictAnswer a = { .status = resp->status, .error = resp->error, .retry_after_sec = retry_after(resp),
                              .uid_wanted = s->ev.uid };
        KubeEvictRetryPolicy p = retry_policy(e);
        KubeEvictDecision d = kube_eviction_decide(&a, &p, s->ev.attempts, now(e));
        apply(e, s, &d, resp, false, false);
}

static void on_recheck_done(void *userdata, const KubeResponse *resp) {
        EvictSlot *s = userdata;
        KubeEvictor *e = s->owner;
        s->call = NULL;
        char uid[POD_UID_MAX] = "";
        bool have_uid = false;
        if (resp->error == 0 && resp->status == 200) {
                json_t *pod = json_loadb(resp->body, resp->body_size, 0, NULL);
                const char *u = json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
                have_uid = u && strlen(u) < sizeof(uid);
                if (have_uid)
                        snprintf(uid, sizeof(uid), "%s", u);
                json_decref(pod);
        }
        KubeEvictAnswer a = { .recheck = true, .status = resp->status, .error = resp->error,
                              .uid_seen = have_uid ? uid : NULL, .uid_wanted = s->ev.uid };
        KubeEvictRetryPolicy p = retry_policy(e);
        KubeEvictDecision d = kube_eviction_decide(&a, &p, s->ev.attempts, now(e));
        apply(e, s, &d, resp, true, have_uid && strcmp(uid, s->ev.uid) == 0);
}

static void send_recheck(KubeEvictor *e, EvictSlot *s) {
        _cleanup_free_ char *path = NULL;
        ColoError err = {};
        int r = asprintf(&path, "/api/v1/namespaces/%s/pods/%s", s->ev.namespace_, s->ev.name) < 0 ? -ENOMEM : 0;
        if (r < 0)
                path = NULL;
        if (r >= 0) {
                KubeRequest req = {
                        .method = "GET", .path = path, .timeout_usec = 30 * USEC_PER_SEC, .on_done = on_recheck_done,
                        .userdata = s,
                };
                r = kube_client_start(e->client, &req, &s->call, &err);
        }
        if (r < 0) {
                /* Retried as an eviction: its UID precondition keeps a replacement safe. */
                e->stats.failures++;
                snprintf(e->stats.last_error, sizeof(e->stats.last_error), "re-read %s/%s: %s", s->ev.namespace_,
                         s->ev.name, r == -ENOMEM ? "out of memory" : colo_error_msg(&err));
                s->ev.state = KUBE_EVICTION_PENDING;
                s->ev.next_attempt_usec = now(e) + retry_delay(e, s->ev.attempts);
                return;
        }
        s->ev.state = KUBE_EVICTION_RECHECKING;
}

static void send_eviction(KubeEvictor *e, EvictSlot *s) {
        _cleanup_free_ char *path = NULL, *body = NULL;
        ColoError err = {};
        s->ev.attempts++;
        if (asprintf(&path, "/api/v1/namespaces/%s/pods/%s/eviction", s->ev.namespace_, s->ev.name) < 0)
                path = NULL;
        int r = path ? kube_eviction_body(&s->ev, e->opts.grace_period_seconds, &body, &err) : -ENOMEM;
        if (r >= 0) {
                KubeRequest req = {
                        .method = "POST", .path = path, .content_type = "application/json", .body = body,
                        .body_size = strlen(body), .timeout_usec = 30 * USEC_PER_SEC, .on_done = on_evict_done,
                        .userdata = s,
                };
                r = kube_client_start(e->client, &req, &s->call, &err);
        }
        if (r < 0) {
                e->stats.failures++;
                snprintf(e->stats.last_error, sizeof(e->stats.last_error), "evict %s/%s: %s", s->ev.namespace_,
                         s->ev.name, colo_error_msg(&err));
                s->ev.state = KUBE_EVICTION_PENDING;
                s->ev.next_attempt_usec = now(e) + retry_delay(e, s->ev.attempts);
                return;
        }
        s->ev.state = KUBE_EVICTION_IN_FLIGHT;
}

/* Namespace and name go into a URL path: DNS labels and subdomains only. */
static bool is_dns_name(const char *s) {
        if (!s[0])
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
                        return false;
        return true;
}

int kube_evictor_evict(KubeEvictor *e, const KubePod *pod, const char *reason, ColoError *err) {
        char ref[320];
        if (!pod || !reason)
                return colo_error_setf_plain(err, EINVAL, "evict: no pod");
        kube_pod_ref(pod, ref, sizeof(ref));
        if (pod->cls.workload_class != CLASS_OFFLINE || pod->class_error[0])
                return colo_error_setf_plain(err, EPERM, "refusing to evict pod %s: it is not offline (%s)", ref,
                                             pod->class_error[0] ? pod->class_error :
                                                                   pod_class_source_to_string(pod->cls.source));
        if (!is_dns_name(pod->namespace_) || !is_dns_name(pod->name) || !pod_uid_is_valid(pod->uid))
                return colo_error_setf_plain(err, EINVAL, "evict pod %s: malformed name", ref);
        if (find_slot(e, pod->uid, NULL))
                return colo_error_setf_plain(err, EALREADY, "pod %s: eviction already requested", ref);

        EvictSlot **slots = realloc(e->slots, (e->n_slots + 1) * sizeof(*slots));
        if (!slots)
                return colo_error_set(err, ENOMEM, "evict pod %s", ref);
        e->slots = slots;
        EvictSlot *s = calloc(1, sizeof(*s));
        if (!s)
                return colo_error_set(err, ENOMEM, "evict pod %s", ref);
        s->owner = e;
        memcpy(s->ev.uid, pod->uid, sizeof(s->ev.uid));
        memcpy(s->ev.namespace_, pod->namespace_, sizeof(s->ev.namespace_));
        memcpy(s->ev.name, pod->name, sizeof(s->ev.name));
        memcpy(s->ev.resource_version, pod->resource_version, sizeof(s->ev.resource_version));
        s->ev.tier = pod->cls.tier;
        snprintf(s->ev.reason, sizeof(s->ev.reason), "%s", reason);
        s->ev.requested_usec = now(e);
        s->ev.requested_realtime_usec = now_realtime_usec();
        e->slots[e->n_slots++] = s;
        e->stats.requested++;
        send_eviction(e, s);
        return 0;
}

void kube_evictor_cancel(KubeEvictor *e, const char *uid) {
        size_t i;
        EvictSlot *s = find_slot(e, uid, &i);
        if (!s)
                return;
        kube_call_cancel(e->client, s->call);
        memmove(&e->slots[i], &e->slots[i + 1], (e->n_slots - i - 1) * sizeof(*e->slots));
        e->n_slots--;
        free(s);
}

void kube_evictor_dispatch(KubeEvictor *e) {
        uint64_t t = now(e);
        for (size_t i = 0; i < e->n_slots; i++) {
                EvictSlot *s = e->slots[i];
                if (s->call || s->ev.next_attempt_usec > t)
                        continue;
                if (s->ev.state == KUBE_EVICTION_PENDING)
                        send_eviction(e, s);
                else if (s->ev.state == KUBE_EVICTION_ACCEPTED && !s->ev.event_posted &&
                         s->ev.event_attempts < EVICT_EVENT_ATTEMPTS)
                        post_event(e, s);
        }
}

uint64_t kube_evictor_next_wakeup(const KubeEvictor *e) {
        uint64_t next = UINT64_MAX;
        for (size_t i = 0; i < e->n_slots; i++) {
                const EvictSlot *s = e->slots[i];
                bool waits = !s->call && (s->ev.state == KUBE_EVICTION_PENDING ||
                                          (s->ev.state == KUBE_EVICTION_ACCEPTED && !s->ev.event_posted &&
                                           s->ev.event_attempts < EVICT_EVENT_ATTEMPTS));
                if (waits)
                        next = MIN(next, s->ev.next_attempt_usec);
        }
        return next;
}

int kube_evictor_new(KubeClient *client, const KubeEvictorOptions *opts, KubeEvictor **ret, ColoError *err) {
        if (!client || !opts || !opts->node_name || !opts->node_name[0])
                return colo_error_setf_plain(err, EINVAL, "evictor: no node name");
        KubeEvictor *e = calloc(1, sizeof(*e));
        if (!e)
                return colo_error_set(err, ENOMEM, "evictor");
        e->client = client;
        e->opts = *opts;
        snprintf(e->node, sizeof(e->node), "%s", opts->node_name);
        e->opts.node_name = e->node;
        if (!e->opts.retry_initial_usec)
                e->opts.retry_initial_usec = EVICT_RETRY_INITIAL_USEC;
        if (!e->opts.retry_max_usec)
                e->opts.retry_max_usec = EVICT_RETRY_MAX_USEC;
        e->opts.retry_max_usec = MAX(e->opts.retry_max_usec, e->opts.retry_initial_usec);
        *ret = e;
        return 0;
}

KubeEvictor *kube_evictor_free(KubeEvictor *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n_slots; i++) {
                kube_call_cancel(e->client, e->slots[i]->call);
                free(e->slots[i]);
        }
        free(e->slots);
        free(e);
        return NULL;
}

const KubeEviction *kube_evictor_find(const KubeEvictor *e, const char *uid) {
        EvictSlot *s = find_slot(e, uid, NULL);
        return s ? &s->ev : NULL;
}

size_t kube_evictor_count(const KubeEvictor *e) {
        return e->n_slots;
}

const KubeEvictorStats *kube_evictor_stats(const KubeEvictor *e) {
        return &e->stats;
}
