/* Prometheus range-query exports (rules in trace.h). The JSON document is parsed whole with
 * jansson (it is one object, size-capped), checked and copied into compact per-series arrays of
 * (time, value) before any sample is handed out, then freed; the series of each node are merged
 * by time, one timestamp per call, into the same resampler as the other formats. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace-internal.h"

typedef struct PromPoint {
        uint64_t t_ms;
        double value;           /* NAN: missing (NaN, Inf or negative in the export) */
} PromPoint;

typedef struct PromSeries {
        char *name;
        double limit;
        size_t node;
        PromPoint *points;
        size_t n_points, cursor;
        bool have_last;
        double last;
        uint64_t missing;       /* node timestamps since the last value */
} PromSeries;

struct PromState {
        bool loaded;
        PromSeries *series;
        size_t n_series;
        size_t *order;          /* series indices grouped by node, in order of appearance */
        size_t *node_start;     /* n_nodes + 1 offsets into order */
        size_t node;            /* the node being emitted */
        IdMap node_keys;
        size_t unlabeled;       /* series packed node_size at a time so far */
};

PromState *trace_prom_free(PromState *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_series; i++) {
                free(p->series[i].name);
                free(p->series[i].points);
        }
        free(p->series);
        free(p->order);
        free(p->node_start);
        id_map_done(&p->node_keys);
        free(p);
        return NULL;
}


/* "{a=\"x\",b=\"y\"}" with the labels sorted, for series without the workload label. */
static char *label_set_name(json_t *metric) {
        const char *keys[64];
        size_t n = 0;
        const char *key;
        json_t *v;
        json_object_foreach(metric, key, v)
                if (n < ELEMENTSOF(keys))
                        keys[n++] = key;
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
                        const char *t = keys[j];
                        keys[j] = keys[j - 1];
                        keys[j - 1] = t;
                }
        char buf[TRACE_LINE_MAX];
        size_t len = (size_t) snprintf(buf, sizeof(buf), "{");
        for (size_t i = 0; i < n && len < sizeof(buf); i++)
                len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s%s=\"%s\"", i ? "," : "", keys[i],
                                         json_string_value(json_object_get(metric, keys[i])));
        if (len < sizeof(buf))
                (void) snprintf(buf + len, sizeof(buf) - len, "}");
        return strdup(buf);
}

static int check_metric(json_t *metric, const char *name, size_t i, ColoError *err) {
        const char *key;
        json_t *v;
        if (!json_is_object(metric))
                return colo_error_setf_plain(err, EBADMSG, "'%s': data.result[%zu].metric: expected an object", name, i);
        json_object_foreach(metric, key, v)
                if (!json_is_string(v) || strlen(json_string_value(v)) >= TRACE_LINE_MAX / 4)
                        return colo_error_setf_plain(err, EBADMSG, "'%s': data.result[%zu].metric.%s: expected a string "
                                                     "shorter than %d bytes", name, i, key, TRACE_LINE_MAX / 4);
        return 0;
}

/* A sample value as Prometheus writes it: a decimal string, or "NaN", "+Inf", "-Inf". */
static int parse_value(TraceReader *r, json_t *v, double limit, double *ret) {
        const char *s = json_string_value(v);
        double d;
        TraceRowError kind;
        if (!s)
                return -EINVAL;
        if (strcmp(s, "NaN") == 0 || strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0 || strcmp(s, "Inf") == 0) {
                r->stats.values_not_finite++;
                *ret = NAN;
                return 0;
        }
        if (trace_parse_percent(s, &d, &kind) < 0)
                return -EINVAL;
        if (d < 0) {
                r->stats.values_negative++;
                *ret = NAN;
                return 0;
        }
        if (d > limit) {
                r->stats.values_clamped++;
                d = limit;
        }
        r->stats.rows++;
        *ret = d;
        return 0;
}

static int parse_points(TraceReader *r, PromSeries *s, json_t *values, size_t i, ColoError *err) {
        size_t n = json_array_size(values);
        s->points = calloc(MAX(n, (size_t) 1), sizeof(PromPoint));
        if (!s->points)
                return colo_error_set(err, ENOMEM, "'%s'", r->name);
        for (size_t j = 0; j < n; j++) {
                json_t *pair = json_array_get(values, j);
                json_t *t = json_array_get(pair, 0);
                double sec = json_number_value(t);
                if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_number(t) || !isfinite(sec) ||
                    sec < 0 || sec >= 17592186044.0 /* 2^44 ms */)
                        return colo_error_setf_plain(err, EBADMSG,
                                                     "'%s': data.result[%zu].values[%zu]: expected [unix time, \"value\"]",
                                                     r->name, i, j);
                uint64_t t_ms = (uint64_t) llround(sec * 1000.0);
                if (j > 0 && t_ms <= s->points[j - 1].t_ms)
                        return colo_error_setf_plain(err, EBADMSG,
                                                     "'%s': data.result[%zu].values[%zu]: time %.3f not after the previous one",
                                                     r->name, i, j, sec);
                s->points[j].t_ms = t_ms;
                if (parse_value(r, json_array_get(pair, 1), s->limit, &s->points[j].value) < 0)
                        return colo_error_setf_plain(err, EBADMSG,
                                                     "'%s': data.result[%zu].values[%zu][1]: expected a number as a string",
                                                     r->name, i, j);
        }
        s->n_points = n;
        return 0;
}

/* The node a series belongs to: by its node label, else packed node_size at a time. */
static int series_node(TraceReader *r, PromState *st, json_t *metric, size_t *ret) {
        const char *label = json_string_value(json_object_get(metric, r->opt.node_label));
        char key[TRACE_LINE_MAX], name[TRACE_LINE_MAX];
        if (label) {
                (void) snprintf(key, sizeof(key), "n:%s", label);
                (void) snprintf(name, sizeof(name), "%s", label);
        } else {
                size_t group = st->unlabeled++ / r->opt.node_size;
                (void) snprintf(key, sizeof(key), "g:%zu", group);
                (void) snprintf(name, sizeof(name), "group%zu", group);
        }
        size_t index;
        int k = id_map_intern(&st->node_keys, key, &index);
        if (k > 0 && trace_add_node(r, name, 0.0) < 0)
                return -ENOMEM;
        if (k < 0)
                return k;
        *ret = index;
        return 0;
}

static int series_limit(TraceReader *r, json_t *metric, const TraceLimits *limits, const char *workload, size_t i,
                        double *ret, ColoError *err) {
        json_t *label = json_object_get(metric, r->opt.limit_label);
        TraceRowError kind;
        if (label) {
                if (trace_parse_percent(json_string_value(label), ret, &kind) < 0 || *ret <= 0 ||
                    *ret > TRACE_LIMIT_MAX_CORES)
                        return colo_error_setf_plain(err, EBADMSG,
                                                     "'%s': data.result[%zu].metric.%s: expected cores > 0 and <= %g, got '%s'",
                                                     r->name, i, r->opt.limit_label, TRACE_LIMIT_MAX_CORES,
                                                     json_string_value(label));
                return 0;
        }
        *ret = trace_limits_get(limits, workload);
        return 0;
}

static int add_series(TraceReader *r, PromState *st, json_t *entry, size_t i, const TraceLimits *limits, ColoError *err) {
        json_t *metric = json_object_get(entry, "metric"), *values = json_object_get(entry, "values");
        if (!json_is_object(entry) || !json_is_array(values))
                return colo_error_setf_plain(err, EBADMSG, "'%s': data.result[%zu]: expected {\"metric\":{...},\"values\":[...]}",
                                             r->name, i);
        int k = check_metric(metric, r->name, i, err);
        if (k < 0)
                return k;
        const char *workload = json_string_value(json_object_get(metric, r->opt.workload_label));
        _cleanup_free_ char *name = workload ? strdup(workload) : label_set_name(metric);
        if (!name)
                return colo_error_set(err, ENOMEM, "'%s'", r->name);
        double limit;
        k = series_limit(r, metric, limits, name, i, &limit, err);
        if (k < 0)
                return k;
        if (isnan(limit)) {
                r->stats.series_without_limit++;
                return 0;
        }
        if (json_array_size(values) == 0)
                return 0;
        PromSeries *s = &st->series[st->n_series];
        *s = (PromSeries) { .limit = limit };
        st->n_series++;         /* trace_prom_free() frees a half-built one */
        k = parse_points(r, s, values, i, err);
        if (k < 0)
                return k;
        if (series_node(r, st, metric, &s->node) < 0)
                return colo_error_set(err, ENOMEM, "'%s'", r->name);
        r->nodes[s->node].limit += limit;
        s->name = TAKE_PTR(name);
        r->stats.sources++;
        return 0;
}

static int check_status(TraceReader *r, json_t *doc, json_t **ret_result, ColoError *err) {
        const char *status = json_string_value(json_object_get(doc, "status"));
        if (!json_is_object(doc) || !status)
                return colo_error_setf_plain(err, EBADMSG, "'%s': not a Prometheus API response (no \"status\")", r->name);
        if (strcmp(status, "success") != 0) {
                const char *type = json_string_value(json_object_get(doc, "errorType"));
                const char *msg = json_string_value(json_object_get(doc, "error"));
                return colo_error_setf_plain(err, EBADMSG, "'%s': Prometheus reported %s: %s: %s", r->name, status,
                                             type ? type : "?", msg ? msg : "?");
        }
        json_t *data = json_object_get(doc, "data");
        const char *type = json_string_value(json_object_get(data, "resultType"));
        if (!type || strcmp(type, "matrix") != 0)
                return colo_error_setf_plain(err, EBADMSG, "'%s': data.resultType: expected \"matrix\" (a range query), got %s",
                                             r->name, type ? type : "nothing");
        *ret_result = json_object_get(data, "result");
        if (!json_is_array(*ret_result))
                return colo_error_setf_plain(err, EBADMSG, "'%s': data.result: expected an array", r->name);
        if (json_array_size(*ret_result) > TRACE_PROMETHEUS_MAX_SERIES)
                return colo_error_setf_plain(err, E2BIG, "'%s': data.result: more than %d series", r->name,
                                             TRACE_PROMETHEUS_MAX_SERIES);
        return 0;
}

/* Orders the series by node and counts the ones that end before their node's last point. */
static int group_by_node(TraceReader *r, PromState *st, ColoError *err) {
        st->order = calloc(MAX(st->n_series, (size_t) 1), sizeof(size_t));
        st->node_start = calloc(r->n_nodes + 1, sizeof(size_t));
        uint64_t *node_end = calloc(MAX(r->n_nodes, (size_t) 1), sizeof(uint64_t));
        if (!st->order || !st->node_start || !node_end) {
                free(node_end);
                return colo_error_set(err, ENOMEM, "'%s'", r->name);
        }
        for (size_t i = 0; i < st->n_series; i++) {
                const PromSeries *s = &st->series[i];
                st->node_start[s->node + 1]++;
                node_end[s->node] = MAX(node_end[s->node], s->points[s->n_points - 1].t_ms);
        }
        for (size_t n = 0; n < r->n_nodes; n++)
                st->node_start[n + 1] += st->node_start[n];
        size_t *fill = calloc(MAX(r->n_nodes, (size_t) 1), sizeof(size_t));
        if (!fill) {
                free(node_end);
                return colo_error_set(err, ENOMEM, "'%s'", r->name);
        }
        for (size_t i = 0; i < st->n_series; i++) {
                const PromSeries *s = &st->series[i];
                st->order[st->node_start[s->node] + fill[s->node]++] = i;
                if (s->points[s->n_points - 1].t_ms < node_end[s->node])
                        r->stats.series_ended++;
        }
        free(fill);
        free(node_end);
        return 0;
}

static int load(TraceReader *r, PromState *st, ColoError *err) {
        const char *text;
        size_t size;
        _cleanup_free_ char *owned = NULL;
        int k = line_source_read_rest(&r->lines, r->name, TRACE_PROMETHEUS_MAX_BYTES, &text, &size, &owned, err);
        if (k < 0)
                return k;
        json_error_t jerr;
        _cleanup_(json_decrefp) json_t *doc = json_loadb(text, size, 0, &jerr);
        if (!doc)
                return colo_error_setf_plain(err, EBADMSG, "'%s': line %d column %d: %s", r->name, jerr.line, jerr.column,
                                             jerr.text);
        json_t *result = NULL;
        k = check_status(r, doc, &result, err);
        if (k < 0)
                return k;
        _cleanup_(trace_limits_freep) TraceLimits *limits = NULL;
        if (r->opt.limits_path) {
                k = trace_limits_load(r->opt.limits_path, &limits, err);
                if (k < 0)
                        return k;
        }
        st->series = calloc(MAX(json_array_size(result), (size_t) 1), sizeof(PromSeries));
        if (!st->series)
                return colo_error_set(err, ENOMEM, "'%s'", r->name);
        for (size_t i = 0; i < json_array_size(result); i++) {
                k = add_series(r, st, json_array_get(result, i), i, limits, err);
                if (k < 0)
                        return k;
        }
        if (st->n_series == 0)
                return colo_error_setf_plain(err, EBADMSG, "'%s': no series with values and a limit (%zu series, %" PRIu64
                                             " without a '%s' label or a --limits entry)", r->name, json_array_size(result),
                                             r->stats.series_without_limit, r->opt.limit_label);
        return group_by_node(r, st, err);
}

/* A series' usage at node time t_ms (the rules in trace.h). */
static double value_at(TraceReader *r, PromSeries *s, uint64_t t_ms) {
        if (s->cursor < s->n_points && s->points[s->cursor].t_ms == t_ms) {
                double v = s->points[s->cursor++].value;
                if (!isnan(v)) {
                        s->have_last = true;
                        s->last = v;
                        s->missing = 0;
                        return v;
                }
        } else if (s->cursor == 0 || s->cursor == s->n_points)
                return 0.0;     /* not started yet, or ended */
        if (!s->have_last)
                return 0.0;
        if (++s->missing <= r->opt.max_gap_steps) {
                r->stats.vm_readings_carried++;
                return s->last;
        }
        r->stats.vm_readings_absent++;
        return 0.0;
}

int trace_prom_advance(TraceReader *r, ColoError *err) {
        if (!r->prom) {
                r->prom = calloc(1, sizeof(PromState));
                if (!r->prom)
                        return colo_error_set(err, ENOMEM, "'%s'", r->name);
        }
        PromState *st = r->prom;
        if (!st->loaded) {
                st->loaded = true;
                int k = load(r, st, err);
                if (k < 0)
                        return k;
        }
        while (st->node < r->n_nodes) {
                size_t a = st->node_start[st->node], b = st->node_start[st->node + 1];
                uint64_t t = UINT64_MAX;
                for (size_t i = a; i < b; i++) {
                        const PromSeries *s = &st->series[st->order[i]];
                        if (s->cursor < s->n_points)
                                t = MIN(t, s->points[s->cursor].t_ms);
                }
                if (t == UINT64_MAX) {
                        int k = trace_resample_flush(r, st->node);
                        if (k < 0)
                                return colo_error_set(err, -k, "'%s'", r->name);
                        st->node++;
                        continue;
                }
                double usage = 0.0;
                for (size_t i = a; i < b; i++)
                        usage += value_at(r, &st->series[st->order[i]], t);
                int k = trace_resample_push(r, st->node, t / 1000, MIN(usage, r->nodes[st->node].limit));
                if (k < 0)
                        return colo_error_set(err, -k, "'%s'", r->name);
                return 1;
        }
        r->finished = true;
        return 0;
}

const char *trace_prom_member(const TraceReader *r, size_t node, size_t i) {
        const PromState *st = r->prom;
        if (!st || !st->node_start || node >= r->n_nodes || i >= st->node_start[node + 1] - st->node_start[node])
                return NULL;
        return st->series[st->order[st->node_start[node] + i]].name;
}
