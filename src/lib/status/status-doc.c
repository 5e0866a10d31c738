/* Status document <-> JSON with jansson. Decoding is strict about the fields it knows (type and
 * range, with the field's dotted name in the error) and ignores the ones it does not, since the
 * file is read by CLIs that may be older or newer than the agent writing it. Encoding streams the
 * workloads one at a time into the text instead of building one tree of them all: the agent
 * encodes every period, and a tree of a few hundred workloads (about 2 KiB each in jansson
 * objects) was its largest allocation. */
#include <jansson.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status/status-doc.h"
#include "util/macro.h"

/* _cleanup_(json_decrefp) uses the helper jansson (>= 2.9) ships. */

void status_doc_done(StatusDoc *d) {
        if (!d)
                return;
        free(d->workloads);
        *d = (StatusDoc) {};
}

int status_doc_reserve(StatusDoc *d, size_t n) {
        if (n <= d->workloads_allocated)
                return 0;
        size_t cap = MAX(n, d->workloads_allocated * 2);
        StatusWorkload *w = realloc(d->workloads, cap * sizeof(*w));
        if (!w)
                return -ENOMEM;
        d->workloads = w;
        d->workloads_allocated = cap;
        return 0;
}

const StatusWorkload *status_doc_find(const StatusDoc *d, const char *name) {
        for (size_t i = 0; d && name && i < d->n_workloads; i++)
                if (strcmp(d->workloads[i].name, name) == 0)
                        return &d->workloads[i];
        return NULL;
}

/* --- encoding --- */

static json_t *u64_json(uint64_t v) {
        return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t) v);
}

static json_t *double_json(double v) {
        return json_real(isfinite(v) ? v : 0.0);
}

/* json_object_set_new() with the allocation failure of either side folded into one flag. */
static void put(json_t *obj, const char *key, json_t *value, bool *oom) {
        if (!obj || !value || json_object_set_new(obj, key, value) < 0)
                *oom = true;
}

static json_t *workload_json(const StatusWorkload *w, bool *oom) {
        json_t *o = json_object();
        const char *state = workload_state_to_string(w->state);
        put(o, "name", json_string(w->name), oom);
        put(o, "class", json_string(workload_class_to_string(w->cls) ?: "unknown"), oom);
        put(o, "tier", json_string(workload_tier_to_string(w->tier) ?: "unknown"), oom);
        put(o, "cpu_usage_cores", double_json(w->cpu_usage_cores), oom);
        put(o, "memory_usage_bytes", u64_json(w->mem_usage), oom);
        put(o, "memory_working_set_bytes", u64_json(w->mem_working_set), oom);
        put(o, "tasks", u64_json(w->nr_tasks), oom);
        put(o, "state", json_string(state ?: "unknown"), oom);
        put(o, "reason", json_string(w->reason), oom);
        put(o, "evicted_realtime_usec", u64_json(w->evicted_realtime_usec), oom);
        return o;
}

static json_t *offline_json(const StatusDoc *d, bool *oom) {
        json_t *offline = json_object();
        put(offline, "cpu_usage_cores", double_json(d->offline_cpu_usage_cores), oom);
        put(offline, "memory_working_set_bytes", u64_json(d->offline_mem_working_set), oom);
        put(offline, "cpu_budget_cores", double_json(d->offline_cpu_budget_cores), oom);
        if (d->offline_cpu_quota_enforced >= 0)
                put(offline, "cpu_quota_enforced", json_boolean(d->offline_cpu_quota_enforced), oom);
        put(offline, "memory_budget_bytes", u64_json(d->offline_mem_budget), oom);
        put(offline, "squeezed", json_boolean(d->squeezed), oom);
        put(offline, "squeeze_reason", json_string(d->squeeze_reason), oom);
        put(offline, "evictions_total", u64_json(d->evictions_total), oom);
        return offline;
}

static json_t *protections_json(const StatusDoc *d, bool *oom) {
        json_t *o = json_object(), *list = json_array();
        put(o, "isolation_in_force", json_boolean(d->isolation_in_force), oom);
        for (size_t i = 0; i < d->n_protections && i < STATUS_PROTECTIONS_MAX; i++) {
                const StatusProtection *p = &d->protections[i];
                json_t *e = json_object();
                put(e, "name", json_string(p->name), oom);
                put(e, "in_force", json_boolean(p->in_force), oom);
                put(e, "cgroup", json_string(p->cgroup), oom);
                put(e, "cause", json_string(p->cause), oom);
                put(e, "fix", json_string(p->fix), oom);
                if (!list || !e || json_array_append_new(list, e) < 0)
                        *oom = true;
        }
        put(o, "checked", list, oom);
        return o;
}

/* The indent of a workload's lines inside the document's "workloads" array. */
#define WORKLOAD_INDENT "    "

/* json_dump_callback() sink into a FILE: the text of a value dumped at depth 0, each line after
 * the first indented by WORKLOAD_INDENT. Encoded strings never hold a raw newline, so every
 * newline is a line break of the layout. */
static int dump_indented(const char *buffer, size_t size, void *data) {
        FILE *f = data;
        while (size > 0) {
                const char *nl = memchr(buffer, '\n', size);
                size_t n = nl ? (size_t) (nl - buffer) + 1 : size;
                if (fwrite(buffer, 1, n, f) != n || (nl && fputs(WORKLOAD_INDENT, f) < 0))
                        return -1;
                buffer += n;
                size -= n;
        }
        return 0;
}

#define STATUS_JSON_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER)
/* What json_dumps() ends the document with while "workloads", its last member, is empty. */
#define EMPTY_WORKLOADS_TAIL "[]\n}"

int status_doc_to_json(const StatusDoc *d, char **ret, ColoError *err) {
        bool oom = false;
        _cleanup_(json_decrefp) json_t *root = json_object();
        json_t *agent = json_object(), *node = json_object(), *online = json_object(), *estimate = json_object(),
               *workloads = json_array();

        put(root, "version", json_integer(STATUS_DOC_VERSION), &oom);
        put(root, "updated_realtime_usec", u64_json(d->updated_realtime_usec), &oom);

        put(agent, "pid", json_integer(d->agent_pid), &oom);
        put(agent, "dry_run", json_boolean(d->dry_run), &oom);
        put(agent, "period_usec", u64_json(d->period_usec), &oom);
        put(agent, "subtree", json_string(d->subtree), &oom);
        put(agent, "cgroup_root", json_string(d->cgroup_root), &oom);
        put(agent, "cgroup_mode", json_string(d->cgroup_mode), &oom);
        put(root, "agent", agent, &oom);

        put(node, "cpu_capacity_cores", double_json(d->cpu_capacity_cores), &oom);
        put(node, "memory_capacity_bytes", u64_json(d->mem_capacity), &oom);
        put(node, "memory_available_bytes", u64_json(d->mem_available), &oom);
        put(root, "node", node, &oom);

        put(estimate, "source", json_string(d->estimate_source), &oom);
        put(estimate, "predicted", json_boolean(d->has_predicted_peak), &oom);
        put(estimate, "cpu_cores", double_json(d->online_estimate_cpu_cores), &oom);
        put(estimate, "memory_bytes", u64_json(d->online_estimate_mem_bytes), &oom);
        put(online, "cpu_usage_cores", double_json(d->online_cpu_usage_cores), &oom);
        put(online, "memory_working_set_bytes", u64_json(d->online_mem_working_set), &oom);
        put(online, "peak_estimate", estimate, &oom);
        put(root, "online", online, &oom);

        put(root, "offline", offline_json(d, &oom), &oom);

        if (d->protections_checked)
                put(root, "protections", protections_json(d, &oom), &oom);
        /* Empty here; the workloads are spliced into the text below. */
        put(root, "workloads", workloads, &oom);
        if (oom)
                return colo_error_set(err, ENOMEM, "encode status document");
        _cleanup_free_ char *head = json_dumps(root, STATUS_JSON_FLAGS);
        if (!head)
                return colo_error_set(err, ENOMEM, "encode status document");
        size_t head_len = strlen(head), tail_len = strlen(EMPTY_WORKLOADS_TAIL);
        if (head_len < tail_len || strcmp(head + head_len - tail_len, EMPTY_WORKLOADS_TAIL) != 0)
                return colo_error_setf_plain(err, EPROTO, "encode status document: unexpected layout from jansson");
        if (d->n_workloads == 0) {
                *ret = TAKE_PTR(head);
                return 0;
        }

        /* The same text json_dumps() makes of the whole tree: each element of the array at depth
         * 1 starts on its own line, indented 4, and its lines are indented 4 more. */
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                return colo_error_set(err, ENOMEM, "encode status document");
        bool failed = fwrite(head, 1, head_len - tail_len + 1, f) != head_len - tail_len + 1;  /* through "[" */
        for (size_t i = 0; i < d->n_workloads && !failed; i++) {
                json_t *w = workload_json(&d->workloads[i], &oom);
                failed = oom || !w || fputs(i == 0 ? "\n" WORKLOAD_INDENT : ",\n" WORKLOAD_INDENT, f) < 0 ||
                         json_dump_callback(w, dump_indented, f, STATUS_JSON_FLAGS) < 0;
                json_decref(w);
        }
        failed = fputs("\n  ]\n}", f) < 0 || failed;
        if (fclose(f) != 0 || failed) {
                free(text);
                return colo_error_set(err, ENOMEM, "encode status document");
        }
        /* The agent keeps the text until the next period (it serves /status): no slack. */
        char *fit = realloc(text, len + 1);
        *ret = fit ?: text;
        return 0;
}

/* --- decoding --- */

static int get_member(json_t *obj, const char *section, const char *key, json_t **ret, ColoError *err) {
        json_t *v = json_object_get(obj, key);
        if (!v)
                return colo_error_setf_plain(err, EBADMSG, "status document: missing field '%s%s%s'",
                                             section ?: "", section ? "." : "", key);
        *ret = v;
        return 0;
}

static int get_u64(json_t *obj, const char *section, const char *key, uint64_t *ret, ColoError *err) {
        json_t *v = NULL;
        int r = get_member(obj, section, key, &v, err);
        if (r < 0)
                return r;
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return colo_error_setf_plain(err, EBADMSG, "status document: field '%s%s%s' is not a non-negative integer",
                                             section ?: "", section ? "." : "", key);
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

static int get_double(json_t *obj, const char *section, const char *key, double *ret, ColoError *err) {
        json_t *v = NULL;
        int r = get_member(obj, section, key, &v, err);
        if (r < 0)
                return r;
        if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
                return colo_error_setf_plain(err, EBADMSG, "status document: field '%s%s%s' is not a non-negative number",
                                             section ?: "", section ? "." : "", key);
        *ret = json_number_value(v);
        return 0;
}

static int get_bool(json_t *obj, const char *section, const char *key, bool *ret, ColoError *err) {
        json_t *v = NULL;
        int r = get_member(obj, section, key, &v, err);
        if (r < 0)
                return r;
        if (!json_is_boolean(v))
                return colo_error_setf_plain(err, EBADMSG, "status document: field '%s%s%s' is not a boolean",
                                             section ?: "", section ? "." : "", key);
        *ret = json_is_true(v);
        return 0;
}

/* A boolean added after version 1 of the document: absent (an older agent) is -1, not an error. */
static int get_optional_flag(json_t *obj, const char *section, const char *key, int8_t *ret, ColoError *err) {
        bool b = false;
        if (!json_object_get(obj, key)) {
                *ret = -1;
                return 0;
        }
        int r = get_bool(obj, section, key, &b, err);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}

static int get_string(json_t *obj, const char *section, const char *key, char *buf, size_t size, ColoError *err) {
        json_t *v = NULL;
        int r = get_member(obj, section, key, &v, err);
        if (r < 0)
                return r;
        if (!json_is_string(v) || json_string_length(v) >= size || strlen(json_string_value(v)) != json_string_length(v))
                return colo_error_setf_plain(err, EBADMSG, "status document: field '%s%s%s' is not a string of at most %zu bytes",
                                             section ?: "", section ? "." : "", key, size - 1);
        memcpy(buf, json_string_value(v), json_string_length(v) + 1);
        return 0;
}

static int get_object(json_t *obj, const char *key, json_t **ret, ColoError *err) {
        int r = get_member(obj, NULL, key, ret, err);
        if (r < 0)
                return r;
        if (!json_is_object(*ret))
                return colo_error_setf_plain(err, EBADMSG, "status document: field '%s' is not an object", key);
        return 0;
}

/* "protections", added after version 1 of the document: absent means not checked. */
static int decode_protections(json_t *root, StatusDoc *d, ColoError *err) {
        json_t *o = json_object_get(root, "protections"), *list = NULL;
        if (!o)
                return 0;
        bool in_force = false;
        int r;
        if (!json_is_object(o))
                return colo_error_setf_plain(err, EBADMSG, "status document: field 'protections' is not an object");
        if ((r = get_bool(o, "protections", "isolation_in_force", &in_force, err)) < 0 ||
            (r = get_member(o, "protections", "checked", &list, err)) < 0)
                return r;
        if (!json_is_array(list) || json_array_size(list) > STATUS_PROTECTIONS_MAX)
                return colo_error_setf_plain(err, EBADMSG, "status document: field 'protections.checked' is not an "
                                             "array of at most %d entries", STATUS_PROTECTIONS_MAX);
        for (size_t i = 0; i < json_array_size(list); i++) {
                json_t *e = json_array_get(list, i);
                StatusProtection *p = &d->protections[i];
                char section[48];
                snprintf(section, sizeof(section), "protections.checked[%zu]", i);
                if (!json_is_object(e))
                        return colo_error_setf_plain(err, EBADMSG, "status document: %s is not an object", section);
                if ((r = get_string(e, section, "name", p->name, sizeof(p->name), err)) < 0 ||
                    (r = get_bool(e, section, "in_force", &p->in_force, err)) < 0 ||
                    (r = get_string(e, section, "cgroup", p->cgroup, sizeof(p->cgroup), err)) < 0 ||
                    (r = get_string(e, section, "cause", p->cause, sizeof(p->cause), err)) < 0 ||
                    (r = get_string(e, section, "fix", p->fix, sizeof(p->fix), err)) < 0)
                        return r;
        }
        d->n_protections = json_array_size(list);
        d->protections_checked = true;
        d->isolation_in_force = in_force;
        return 0;
}

static int decode_offline(json_t *offline, StatusDoc *d, ColoError *err) {
        int r;
        if ((r = get_double(offline, "offline", "cpu_usage_cores", &d->offline_cpu_usage_cores, err)) < 0 ||
            (r = get_u64(offline, "offline", "memory_working_set_bytes", &d->offline_mem_working_set, err)) < 0 ||
            (r = get_double(offline, "offline", "cpu_budget_cores", &d->offline_cpu_budget_cores, err)) < 0 ||
            (r = get_optional_flag(offline, "offline", "cpu_quota_enforced", &d->offline_cpu_quota_enforced, err)) < 0 ||
            (r = get_u64(offline, "offline", "memory_budget_bytes", &d->offline_mem_budget, err)) < 0 ||
            (r = get_bool(offline, "offline", "squeezed", &d->squeezed, err)) < 0 ||
            (r = get_string(offline, "offline", "squeeze_reason", d->squeeze_reason, sizeof(d->squeeze_reason), err)) < 0 ||
            (r = get_u64(offline, "offline", "evictions_total", &d->evictions_total, err)) < 0)
                return r;
        return 0;
}

static int decode_workload(json_t *o, size_t index, StatusWorkload *w, ColoError *err) {
        char section[32], cls[16], tier[16], state[16];
        int r;

        snprintf(section, sizeof(section), "workloads[%zu]", index);
        if (!json_is_object(o))
                return colo_error_setf_plain(err, EBADMSG, "status document: %s is not an object", section);
        if ((r = get_string(o, section, "name", w->name, sizeof(w->name), err)) < 0 ||
            (r = get_string(o, section, "class", cls, sizeof(cls), err)) < 0 ||
            (r = get_string(o, section, "tier", tier, sizeof(tier), err)) < 0 ||
            (r = get_double(o, section, "cpu_usage_cores", &w->cpu_usage_cores, err)) < 0 ||
            (r = get_u64(o, section, "memory_usage_bytes", &w->mem_usage, err)) < 0 ||
            (r = get_u64(o, section, "memory_working_set_bytes", &w->mem_working_set, err)) < 0 ||
            (r = get_u64(o, section, "tasks", &w->nr_tasks, err)) < 0 ||
            (r = get_string(o, section, "state", state, sizeof(state), err)) < 0 ||
            (r = get_string(o, section, "reason", w->reason, sizeof(w->reason), err)) < 0 ||
            (r = get_u64(o, section, "evicted_realtime_usec", &w->evicted_realtime_usec, err)) < 0)
                return r;
        if (!workload_name_is_valid(w->name))
                return colo_error_setf_plain(err, EBADMSG, "status document: %s.name '%s' is not a valid workload name",
                                             section, w->name);
        w->cls = workload_class_from_string(cls);
        w->tier = workload_tier_from_string(tier);
        if (w->cls < 0 || w->tier < 0 || workload_tier_class(w->tier) != w->cls)
                return colo_error_setf_plain(err, EBADMSG, "status document: %s has class '%s' and tier '%s'", section,
                                             cls, tier);
        w->state = _WORKLOAD_STATE_INVALID;
        for (int s = 0; s < _WORKLOAD_STATE_MAX; s++)
                if (strcmp(state, workload_state_to_string((WorkloadState) s)) == 0)
                        w->state = (WorkloadState) s;
        if (w->state < 0)
                return colo_error_setf_plain(err, EBADMSG, "status document: %s.state '%s' is unknown", section, state);
        return 0;
}

int status_doc_from_json(const char *text, size_t size, StatusDoc *ret, ColoError *err) {
        json_error_t jerr;
        _cleanup_(json_decrefp) json_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return colo_error_setf_plain(err, EBADMSG, "status document: line %d: %s", jerr.line, jerr.text);
        if (!json_is_object(root))
                return colo_error_setf_plain(err, EBADMSG, "status document: not a JSON object");

        StatusDoc d = {};
        uint64_t version;
        json_t *agent = NULL, *node = NULL, *online = NULL, *estimate = NULL, *offline = NULL, *workloads = NULL;
        int64_t pid;
        int r;

        if ((r = get_u64(root, NULL, "version", &version, err)) < 0)
                return r;
        if (version != STATUS_DOC_VERSION)
                return colo_error_setf_plain(err, EBADMSG, "status document: version %" PRIu64 " is not supported (expected %d)",
                                             version, STATUS_DOC_VERSION);
        if ((r = get_u64(root, NULL, "updated_realtime_usec", &d.updated_realtime_usec, err)) < 0 ||
            (r = get_object(root, "agent", &agent, err)) < 0 || (r = get_object(root, "node", &node, err)) < 0 ||
            (r = get_object(root, "online", &online, err)) < 0 || (r = get_object(root, "offline", &offline, err)) < 0)
                return r;

        json_t *jpid = NULL;
        if ((r = get_member(agent, "agent", "pid", &jpid, err)) < 0)
                return r;
        pid = json_is_integer(jpid) ? json_integer_value(jpid) : -1;
        if (pid < 0 || pid > INT32_MAX)
                return colo_error_setf_plain(err, EBADMSG, "status document: field 'agent.pid' is not a process id");
        d.agent_pid = pid;
        if ((r = get_bool(agent, "agent", "dry_run", &d.dry_run, err)) < 0 ||
            (r = get_u64(agent, "agent", "period_usec", &d.period_usec, err)) < 0 ||
            (r = get_string(agent, "agent", "subtree", d.subtree, sizeof(d.subtree), err)) < 0 ||
            (r = get_string(agent, "agent", "cgroup_root", d.cgroup_root, sizeof(d.cgroup_root), err)) < 0 ||
            (r = get_string(agent, "agent", "cgroup_mode", d.cgroup_mode, sizeof(d.cgroup_mode), err)) < 0)
                return r;

        if ((r = get_double(node, "node", "cpu_capacity_cores", &d.cpu_capacity_cores, err)) < 0 ||
            (r = get_u64(node, "node", "memory_capacity_bytes", &d.mem_capacity, err)) < 0 ||
            (r = get_u64(node, "node", "memory_available_bytes", &d.mem_available, err)) < 0)
                return r;

        if ((r = get_double(online, "online", "cpu_usage_cores", &d.online_cpu_usage_cores, err)) < 0 ||
            (r = get_u64(online, "online", "memory_working_set_bytes", &d.online_mem_working_set, err)) < 0 ||
            (r = get_member(online, "online", "peak_estimate", &estimate, err)) < 0)
                return r;
        if (!json_is_object(estimate))
                return colo_error_setf_plain(err, EBADMSG, "status document: field 'online.peak_estimate' is not an object");
        if ((r = get_string(estimate, "online.peak_estimate", "source", d.estimate_source, sizeof(d.estimate_source), err)) < 0 ||
            (r = get_bool(estimate, "online.peak_estimate", "predicted", &d.has_predicted_peak, err)) < 0 ||
            (r = get_double(estimate, "online.peak_estimate", "cpu_cores", &d.online_estimate_cpu_cores, err)) < 0 ||
            (r = get_u64(estimate, "online.peak_estimate", "memory_bytes", &d.online_estimate_mem_bytes, err)) < 0)
                return r;

        if ((r = decode_offline(offline, &d, err)) < 0 || (r = decode_protections(root, &d, err)) < 0)
                return r;

        if ((r = get_member(root, NULL, "workloads", &workloads, err)) < 0)
                return r;
        if (!json_is_array(workloads))
                return colo_error_setf_plain(err, EBADMSG, "status document: field 'workloads' is not an array");
        size_t n = json_array_size(workloads);
        if (n > 0) {
                d.workloads = calloc(n, sizeof(*d.workloads));
                if (!d.workloads)
                        return colo_error_set(err, ENOMEM, "decode status document");
        }
        for (size_t i = 0; i < n; i++) {
                r = decode_workload(json_array_get(workloads, i), i, &d.workloads[i], err);
                if (r < 0) {
                        free(d.workloads);
                        return r;
                }
        }
        d.n_workloads = d.workloads_allocated = n;
        *ret = d;
        return 0;
}
