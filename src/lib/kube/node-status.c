/* Node status publishing: the pure decay and hysteresis rules, the merge patches, and the
 * publisher that sends them on the agent's KubeClient, one call of each kind at a time, retrying
 * failures with a capped exponential delay. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "kube/node-status.h"
#include "k8s/resource-quantity.h"
#include "util/fileio.h"
#include "util/macro.h"

NodeCapacity node_status_decay(NodeCapacity budget, uint64_t data_age_usec, uint64_t stale_after_usec) {
        if (data_age_usec <= stale_after_usec)
                return budget;
        if (stale_after_usec == 0 || data_age_usec - stale_after_usec >= stale_after_usec)
                return (NodeCapacity) {};
        double left = 1.0 - (double) (data_age_usec - stale_after_usec) / (double) stale_after_usec;
        return (NodeCapacity) {
                .cpu_milli = (int64_t) floor((double) MAX(budget.cpu_milli, (int64_t) 0) * left),
                .memory = (int64_t) floor((double) MAX(budget.memory, (int64_t) 0) * left),
        };
}

bool node_status_due(const NodeStatusHysteresis *h, const int64_t *values, size_t n, uint64_t now_usec,
                     double threshold, uint64_t interval_usec, bool follow_small_drops) {
        if (!h->published)
                return true;
        uint64_t since = now_usec - MIN(now_usec, h->at_usec);
        if (since >= interval_usec)
                return true;
        bool big_drop = false, small_drop = false, rise = false;
        for (size_t i = 0; i < n && i < NODE_STATUS_VALUES_MAX; i++) {
                int64_t old = h->values[i], want = values[i];
                if (want == old)
                        continue;
                bool moved = old == 0 || want == 0 ||
                             fabs((double) want - (double) old) >= threshold * fabs((double) old);
                if (want < old && moved)
                        big_drop = true;
                else if (want < old)
                        small_drop = follow_small_drops;
                else if (moved)
                        rise = true;
        }
        return big_drop || ((small_drop || rise) && since >= NODE_STATUS_MIN_SPACING_USEC);
}

NodeCapacity node_status_advertise(NodeCapacity budget, NodeCapacity held) {
        return (NodeCapacity) { MAX(budget.cpu_milli, held.cpu_milli), MAX(budget.memory, held.memory) };
}

int node_status_capacity_patch(NodeCapacity c, char **ret, ColoError *err) {
        char cpu[32], mem[32];
        if (quantity_format_units(MAX(c.cpu_milli, (int64_t) 0), cpu, sizeof(cpu)) < 0 ||
            quantity_format_units(MAX(c.memory, (int64_t) 0), mem, sizeof(mem)) < 0)
                return colo_error_setf_plain(err, EINVAL, "node status: cannot format the capacity");
        json_t *res = json_pack("{s:s, s:s}", NODE_OFFLINE_CPU_RESOURCE, cpu, NODE_OFFLINE_MEMORY_RESOURCE, mem);
        json_t *patch = res ? json_pack("{s:{s:O, s:o}}", "status", "capacity", res, "allocatable", res) : NULL;
        char *text = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
        json_decref(patch);
        if (!text)
                return colo_error_set(err, ENOMEM, "node status patch");
        *ret = text;
        return 0;
}

int node_status_annotation_patch(const NodeUsage *u, char **ret, ColoError *err) {
        _cleanup_free_ char *value = NULL;
        int r = node_usage_format(u, &value, err);
        if (r < 0)
                return r;
        json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", NODE_USAGE_ANNOTATION, value);
        char *text = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
        json_decref(patch);
        if (!text)
                return colo_error_set(err, ENOMEM, "node annotation patch");
        *ret = text;
        return 0;
}

int node_status_pick_overcommit(const OfflineHolding *pods, size_t n, NodeCapacity budget, size_t *ret_index) {
        int64_t cpu = 0, mem = 0;
        for (size_t i = 0; i < n; i++)
                if (!pods[i].being_evicted) {
                        cpu = cpu > INT64_MAX - pods[i].cpu_milli ? INT64_MAX : cpu + pods[i].cpu_milli;
                        mem = mem > INT64_MAX - pods[i].memory ? INT64_MAX : mem + pods[i].memory;
                }
        bool cpu_over = cpu > budget.cpu_milli, mem_over = mem > budget.memory;
        if (!cpu_over && !mem_over)
                return -ENOENT;

        ssize_t best = -1;
        for (size_t i = 0; i < n; i++) {
                const OfflineHolding *p = &pods[i];
                /* Only a pod that holds some of what is over helps. */
                if (p->being_evicted || !((cpu_over && p->cpu_milli > 0) || (mem_over && p->memory > 0)))
                        continue;
                if (best < 0) {
                        best = (ssize_t) i;
                        continue;
                }
                const OfflineHolding *b = &pods[best];
                if (p->tier != b->tier) {
                        if (p->tier > b->tier)          /* higher value = less protected */
                                best = (ssize_t) i;
                        continue;
                }
                int64_t pv = mem_over ? p->memory : p->cpu_milli, bv = mem_over ? b->memory : b->cpu_milli;
                if (pv > bv)
                        best = (ssize_t) i;
        }
        if (best < 0)
                return -ENOENT;
        *ret_index = (size_t) best;
        return 0;
}

/* --- the publisher --- */

typedef struct PatchSlot {
        NodePublisher *owner;
        KubeCall *call;
        NodeStatusHysteresis hyst;
        int64_t sending[NODE_STATUS_VALUES_MAX];        /* what the call in flight publishes */
        uint64_t retry_after_usec;
        unsigned failures_in_row;
        uint64_t generation;            /* successful patches so far */
        bool is_status;
} PatchSlot;

struct NodePublisher {
        KubeClient *client;
        char node[254];
        NodePublisherConfig cfg;
        uint64_t (*now)(void);
        PatchSlot status, annotation;
        KubeCall *verify_call;
        uint64_t last_verify_usec;
        uint64_t verify_generation;     /* the status patch the read-back is compared with */
        NodeStatusHysteresis verify_expected;
        NodePublisherStats stats;
};

static uint64_t publisher_now(const NodePublisher *p) {
        return p->now ? p->now() : now_monotonic_usec();
}

static void on_patch_done(void *userdata, const KubeResponse *resp) {
        PatchSlot *s = userdata;
        NodePublisher *p = s->owner;
        uint64_t now = publisher_now(p);
        s->call = NULL;
        if (resp->error == 0 && resp->status >= 200 && resp->status < 300) {
                s->hyst.published = true;
                s->hyst.at_usec = now;
                s->generation++;
                memcpy(s->hyst.values, s->sending, sizeof(s->hyst.values));
                s->failures_in_row = 0;
                s->retry_after_usec = 0;
                if (s->is_status) {
                        p->stats.status_patches++;
                        p->stats.advertised = (NodeCapacity) { s->sending[0], s->sending[1] };
                        p->stats.have_advertised = true;
                        p->stats.last_status_patch_usec = now;
                } else
                        p->stats.annotation_patches++;
                return;
        }
        KubeStatus st;
        const char *what = s->is_status ? "patch node status" : "patch node annotation";
        if (resp->error < 0)
                snprintf(p->stats.last_error, sizeof(p->stats.last_error), "%s: %s", what, resp->message);
        else if (kube_status_parse(resp->body, resp->body_size, &st) >= 0)
                snprintf(p->stats.last_error, sizeof(p->stats.last_error), "%s: HTTP %ld %s: %s", what, resp->status,
                         st.reason, st.message);
        else
                snprintf(p->stats.last_error, sizeof(p->stats.last_error), "%s: HTTP %ld", what, resp->status);
        p->stats.failures++;
        s->failures_in_row++;
        uint64_t delay = USEC_PER_SEC << MIN(s->failures_in_row - 1, 6u);
        s->retry_after_usec = now + MIN(delay, NODE_STATUS_RETRY_MAX_USEC);
}

static void start_patch(NodePublisher *p, PatchSlot *s, const char *path, char *body, const int64_t *values) {
        ColoError err = {};
        KubeRequest req = {
                .method = "PATCH", .path = path, .content_type = NODE_STATUS_PATCH_CONTENT_TYPE,
                .body = body, .body_size = strlen(body), .timeout_usec = 30 * USEC_PER_SEC,
                .on_done = on_patch_done, .userdata = s,
        };
        memcpy(s->sending, values, sizeof(s->sending));
        if (kube_client_start(p->client, &req, &s->call, &err) < 0) {
                snprintf(p->stats.last_error, sizeof(p->stats.last_error), "patch node: %s", colo_error_msg(&err));
                p->stats.failures++;
                s->failures_in_row++;
                s->retry_after_usec = publisher_now(p) + NODE_STATUS_RETRY_MAX_USEC;
        }
}

/* The extended resource as the Node carries it in section, or -1 when absent or malformed. */
static int64_t node_resource(const json_t *node, const char *section, const char *resource) {
        const char *v = json_string_value(json_object_get(json_object_get(json_object_get(node, "status"), section),
                                                          resource));
        int64_t q;
        return v && quantity_parse_integer(v, &q) >= 0 ? q : -1;
}

static void on_verify_done(void *userdata, const KubeResponse *resp) {
        NodePublisher *p = userdata;
        p->verify_call = NULL;
        if (resp->error < 0 || resp->status != 200)
                return;         /* a failed read proves nothing; the patches report their own failures */
        p->stats.verifications++;
        /* A patch that completed meanwhile makes the read-back moot. */
        if (!p->status.hyst.published || p->status.generation != p->verify_generation || p->status.call)
                return;
        json_error_t jerr;
        json_t *node = json_loadb(resp->body, resp->body_size, 0, &jerr);
        if (!node)
                return;
        const int64_t *want = p->verify_expected.values;
        bool same = node_resource(node, "capacity", NODE_OFFLINE_CPU_RESOURCE) == want[0] &&
                    node_resource(node, "allocatable", NODE_OFFLINE_CPU_RESOURCE) == want[0] &&
                    node_resource(node, "capacity", NODE_OFFLINE_MEMORY_RESOURCE) == want[1] &&
                    node_resource(node, "allocatable", NODE_OFFLINE_MEMORY_RESOURCE) == want[1];
        json_decref(node);
        if (!same) {
                /* The kubelet re-registered the node (or someone else wrote): patch it back now. */
                p->status.hyst.published = false;
                p->stats.resets_detected++;
                snprintf(p->stats.last_error, sizeof(p->stats.last_error),
                         "node status: colo.io/offline-* differ from what was published; patching them back");
        }
}

char *node_status_read_path(const char *node) {
        char *path;
        /* resourceVersion=0: any version the API server has cached will do. */
        return asprintf(&path, "/api/v1/nodes/%s?resourceVersion=0", node) < 0 ? NULL : path;
}

static void start_verify(NodePublisher *p, uint64_t now) {
        _cleanup_free_ char *path = node_status_read_path(p->node);
        ColoError err = {};
        p->last_verify_usec = now;
        if (!path)
                return;
        KubeRequest req = { .method = "GET", .path = path, .timeout_usec = 30 * USEC_PER_SEC, .on_done = on_verify_done,
                            .userdata = p };
        p->verify_generation = p->status.generation;
        p->verify_expected = p->status.hyst;
        if (kube_client_start(p->client, &req, &p->verify_call, &err) < 0)
                p->verify_call = NULL;
}

void node_publisher_update(NodePublisher *p, const NodeUsage *usage, uint64_t data_usec, NodeCapacity held) {
        uint64_t now = publisher_now(p);
        uint64_t age = now - MIN(now, data_usec);
        NodeCapacity budget = node_status_decay((NodeCapacity) { usage->offline_cpu_milli, usage->offline_memory }, age,
                                                p->cfg.stale_after_usec);
        NodeCapacity want = node_status_advertise(budget, held);
        p->stats.budget = budget;
        p->stats.wanted = want;
        p->stats.decaying = age > p->cfg.stale_after_usec;

        PatchSlot *s = &p->status;
        if (s->hyst.published && !s->call && !p->verify_call && now - MIN(now, p->last_verify_usec) >= NODE_STATUS_VERIFY_INTERVAL_USEC)
                start_verify(p, now);
        int64_t cap[NODE_STATUS_VALUES_MAX] = { want.cpu_milli, want.memory };
        if (!s->call && now >= s->retry_after_usec &&
            node_status_due(&s->hyst, cap, 2, now, p->cfg.threshold, p->cfg.interval_usec, true)) {
                _cleanup_free_ char *path = NULL, *body = NULL;
                ColoError err = {};
                if (asprintf(&path, "/api/v1/nodes/%s/status", p->node) < 0)
                        path = NULL;
                if (path && node_status_capacity_patch(want, &body, &err) >= 0)
                        start_patch(p, s, path, body, cap);
        }

        /* The annotation tells the extender the same budget (decayed) with usage and peak. */
        s = &p->annotation;
        NodeUsage u = *usage;
        u.offline_cpu_milli = budget.cpu_milli;
        u.offline_memory = budget.memory;
        int64_t ann[NODE_STATUS_VALUES_MAX] = { u.cpu_peak_milli, u.mem_peak, budget.cpu_milli, budget.memory };
        uint64_t interval = MIN(p->cfg.interval_usec, NODE_ANNOTATION_MAX_INTERVAL_USEC);
        if (!s->call && now >= s->retry_after_usec &&
            node_status_due(&s->hyst, ann, 4, now, p->cfg.threshold, interval, false)) {
                _cleanup_free_ char *path = NULL, *body = NULL;
                ColoError err = {};
                if (asprintf(&path, "/api/v1/nodes/%s", p->node) < 0)
                        path = NULL;
                if (path && node_status_annotation_patch(&u, &body, &err) >= 0)
                        start_patch(p, s, path, body, ann);
                else if (path)
                        snprintf(p->stats.last_error, sizeof(p->stats.last_error), "node annotation: %s", colo_error_msg(&err));
        }
}

int node_publisher_new(KubeClient *client, const char *node_name, const NodePublisherConfig *cfg,
                       uint64_t (*now)(void), NodePublisher **ret, ColoError *err) {
        if (!client || !node_name || !node_name[0] || strlen(node_name) >= sizeof(((NodePublisher *) 0)->node) ||
            strpbrk(node_name, "/?#% ") || !cfg)
                return colo_error_setf_plain(err, EINVAL, "node publisher: invalid node name '%s'", node_name ?: "");
        NodePublisher *p = calloc(1, sizeof(*p));
        if (!p)
                return colo_error_set(err, ENOMEM, "node publisher");
        p->client = client;
        snprintf(p->node, sizeof(p->node), "%s", node_name);
        p->cfg = *cfg;
        p->now = now;
        p->status = (PatchSlot) { .owner = p, .is_status = true };
        p->annotation = (PatchSlot) { .owner = p };
        *ret = p;
        return 0;
}

void node_publisher_set_config(NodePublisher *p, const NodePublisherConfig *cfg) {
        p->cfg = *cfg;
}

NodePublisher *node_publisher_free(NodePublisher *p) {
        if (!p)
                return NULL;
        kube_call_cancel(p->client, p->status.call);
        kube_call_cancel(p->client, p->annotation.call);
        kube_call_cancel(p->client, p->verify_call);
        free(p);
        return NULL;
}

const NodePublisherStats *node_publisher_stats(const NodePublisher *p) {
        return &p->stats;
}
