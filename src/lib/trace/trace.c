/* The trace reader: reads lines, detects the format, hands rows to the per-format parser and
 * hands out the samples the parsers queue, resampled to the fixed step (see trace.h). The queue
 * is drained before another line is read, so it holds at most one timestamp's worth of samples. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace-internal.h"

static const char *const format_names[_TRACE_FORMAT_MAX] = {
        [TRACE_FORMAT_AUTO] = "auto",
        [TRACE_FORMAT_AZURE] = "azure",
        [TRACE_FORMAT_ALIBABA] = "alibaba",
        [TRACE_FORMAT_PROMETHEUS] = "prometheus",
};

static const char *const signal_names[_TRACE_SIGNAL_MAX] = {
        [TRACE_SIGNAL_MAX] = "max",
        [TRACE_SIGNAL_AVG] = "avg",
        [TRACE_SIGNAL_MEM] = "mem",
};

static const char *const row_error_names[_TRACE_ROW_ERROR_MAX] = {
        [TRACE_ROW_BLANK] = "blank line",
        [TRACE_ROW_TOO_LONG] = "line too long",
        [TRACE_ROW_FIELD_COUNT] = "wrong field count",
        [TRACE_ROW_BAD_ID] = "empty id",
        [TRACE_ROW_BAD_TIMESTAMP] = "bad timestamp",
        [TRACE_ROW_EMPTY_VALUE] = "empty cpu value",
        [TRACE_ROW_BAD_NUMBER] = "cpu value not a number",
        [TRACE_ROW_INVALID_MARKER] = "invalid marker (-1 or 101)",
        [TRACE_ROW_OUT_OF_RANGE] = "cpu value outside 0..100",
        [TRACE_ROW_OUT_OF_ORDER] = "timestamp out of order",
        [TRACE_ROW_DUPLICATE] = "duplicate reading",
};

void trace_options_init_defaults(TraceOptions *o) {
        *o = (TraceOptions) {
                .format = TRACE_FORMAT_AUTO,
                .signal = TRACE_SIGNAL_MAX,
                .node_size = 10,
                .step_sec = 300,
                .max_gap_steps = 3,
                .machine_cores = TRACE_ALIBABA_MACHINE_CORES,
                .workload_label = "pod",
                .limit_label = "limit",
                .node_label = "node",
        };
}

const char *trace_format_to_string(TraceFormat f) {
        return f >= 0 && f < _TRACE_FORMAT_MAX ? format_names[f] : NULL;
}

TraceFormat trace_format_from_string(const char *s) {
        for (int i = 0; s && i < _TRACE_FORMAT_MAX; i++)
                if (strcmp(s, format_names[i]) == 0)
                        return i;
        return _TRACE_FORMAT_INVALID;
}

TraceSignal trace_signal_from_string(const char *s) {
        for (int i = 0; s && i < _TRACE_SIGNAL_MAX; i++)
                if (strcmp(s, signal_names[i]) == 0)
                        return i;
        return _TRACE_SIGNAL_INVALID;
}

const char *trace_row_error_to_string(TraceRowError e) {
        return e >= 0 && e < _TRACE_ROW_ERROR_MAX ? row_error_names[e] : NULL;
}

uint64_t trace_stats_malformed_total(const TraceStats *s) {
        uint64_t n = 0;
        for (size_t i = 0; i < _TRACE_ROW_ERROR_MAX; i++)
                n += s->malformed[i];
        return n;
}

/* ---- field parsing ---- */

size_t trace_split_fields(char *line, char **fields, size_t max) {
        size_t n = 0;
        for (char *p = line;;) {
                char *comma = strchr(p, ',');
                if (n < max)
                        fields[n] = p;
                n++;
                if (!comma)
                        return n;
                *comma = '\0';
                p = comma + 1;
        }
}

/* 2^44 s is about 557,000 years: any real timestamp, and still fits in microseconds. */
#define SECONDS_MAX (UINT64_C(1) << 44)

int trace_parse_seconds(const char *s, uint64_t *ret) {
        if (*s == '\0')
                return -EINVAL;
        uint64_t v = 0;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (*s - '0');
                if (v >= SECONDS_MAX)
                        return -ERANGE;
        }
        *ret = v;
        return 0;
}

int trace_parse_percent(const char *s, double *ret, TraceRowError *ret_kind) {
        if (*s == '\0') {
                *ret_kind = TRACE_ROW_EMPTY_VALUE;
                return -EINVAL;
        }
        /* strtod() alone would accept leading blanks, "nan", "inf" and hex floats. */
        if (!(*s == '-' || *s == '+' || *s == '.' || (*s >= '0' && *s <= '9'))) {
                *ret_kind = TRACE_ROW_BAD_NUMBER;
                return -EINVAL;
        }
        char *end;
        double v = strtod(s, &end);
        if (end == s || *end != '\0' || !isfinite(v) || strpbrk(s, "xXnN")) {
                *ret_kind = TRACE_ROW_BAD_NUMBER;
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

/* ---- nodes, samples, resampling ---- */

void trace_count_malformed(TraceReader *r, TraceRowError kind) {
        if (r->stats.malformed[kind]++ == 0)
                r->stats.first_line[kind] = r->lines.line_no;
}

int64_t trace_add_node(TraceReader *r, const char *name, double limit) {
        if (r->n_nodes == r->nodes_cap) {
                size_t cap = r->nodes_cap ? r->nodes_cap * 2 : 16;
                TraceNode *nodes = realloc(r->nodes, cap * sizeof(*nodes));
                if (!nodes)
                        return -ENOMEM;
                r->nodes = nodes;
                r->nodes_cap = cap;
        }
        char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        r->nodes[r->n_nodes] = (TraceNode) { .name = copy, .limit = limit };
        return (int64_t) r->n_nodes++;
}

static int queue_sample(TraceReader *r, size_t node, uint64_t t_sec, double usage) {
        if (r->queue_len == r->queue_cap) {
                size_t cap = r->queue_cap ? r->queue_cap * 2 : 64;
                TraceSample *q = realloc(r->queue, cap * sizeof(*q));
                if (!q)
                        return -ENOMEM;
                r->queue = q;
                r->queue_cap = cap;
        }
        r->queue[r->queue_len++] = (TraceSample) {
                .node = node,
                .t_usec = t_sec * USEC_PER_SEC,
                .usage = usage,
                .limit = r->nodes[node].limit,
        };
        r->stats.samples++;
        return 0;
}

/* Emits the open step of a node, first filling or skipping the empty steps before it. */
static int resampler_close(TraceReader *r, size_t node) {
        Resampler *rs = &r->nodes[node].resampler;
        uint64_t step = r->opt.step_sec;
        int ret;

        if (!rs->open)
                return 0;
        if (rs->emitted && rs->open_end > rs->last_end + step) {
                uint64_t missing = (rs->open_end - rs->last_end) / step - 1;
                if (missing <= r->opt.max_gap_steps) {
                        for (uint64_t k = 1; k <= missing; k++) {
                                ret = queue_sample(r, node, rs->last_end + k * step, rs->last_value);
                                if (ret < 0)
                                        return ret;
                        }
                        r->stats.gap_steps_filled += missing;
                } else {
                        r->stats.gap_steps_skipped += missing;
                        r->stats.series_breaks++;
                }
        }
        ret = queue_sample(r, node, rs->open_end, rs->open_max);
        if (ret < 0)
                return ret;
        rs->emitted = true;
        rs->last_end = rs->open_end;
        rs->last_value = rs->open_max;
        rs->open = false;
        return 0;
}

int trace_resample_push(TraceReader *r, size_t node, uint64_t t_sec, double usage) {
        Resampler *rs = &r->nodes[node].resampler;
        uint64_t step = r->opt.step_sec;
        uint64_t end = (t_sec + step - 1) / step * step;

        if (rs->open && end == rs->open_end) {
                rs->open_max = MAX(rs->open_max, usage);
                return 0;
        }
        /* Callers reject time going backwards, so a different step is a later one. */
        int ret = resampler_close(r, node);
        if (ret < 0)
                return ret;
        rs->open = true;
        rs->open_end = end;
        rs->open_max = usage;
        return 0;
}

int trace_resample_flush(TraceReader *r, size_t node) {
        return resampler_close(r, node);
}

/* ---- the reader ---- */

static int options_check(const TraceOptions *o, ColoError *err) {
        if (o->format < 0 || o->format >= _TRACE_FORMAT_MAX)
                return colo_error_setf_plain(err, EINVAL, "invalid trace format %d", (int) o->format);
        if (o->signal < 0 || o->signal >= _TRACE_SIGNAL_MAX)
                return colo_error_setf_plain(err, EINVAL, "invalid signal %d", (int) o->signal);
        /* Only Alibaba's rows carry memory; asked of another format it would silently be CPU. */
        if (o->signal == TRACE_SIGNAL_MEM && o->format != TRACE_FORMAT_ALIBABA)
                return colo_error_setf_plain(err, EINVAL, "signal mem needs format alibaba");
        if (o->node_size == 0 || o->node_size > 1000000)
                return colo_error_setf_plain(err, EINVAL, "node size %zu out of range 1..1000000", o->node_size);
        if (o->step_sec == 0 || o->step_sec > 365 * 86400)
                return colo_error_setf_plain(err, EINVAL, "step %" PRIu64 " s out of range 1 s..365 d", o->step_sec);
        if (!o->workload_label || !o->limit_label || !o->node_label)
                return colo_error_setf_plain(err, EINVAL, "prometheus label names missing");
        if (o->max_gap_steps > 100000)
                return colo_error_setf_plain(err, EINVAL, "max gap %u steps out of range 0..100000", o->max_gap_steps);
        if (!(o->machine_cores >= 1.0 && o->machine_cores <= 1e6))
                return colo_error_setf_plain(err, EINVAL, "machine cores %g out of range 1..1000000", o->machine_cores);
        return 0;
}

static int reader_new(const char *name, const TraceOptions *o, TraceReader **ret, ColoError *err) {
        TraceOptions defaults;
        if (!o) {
                trace_options_init_defaults(&defaults);
                o = &defaults;
        }
        int r = options_check(o, err);
        if (r < 0)
                return r;
        TraceReader *t = calloc(1, sizeof(*t));
        if (!t)
                return colo_error_set(err, ENOMEM, "'%s'", name);
        t->name = strdup(name);
        if (!t->name) {
                free(t);
                return colo_error_set(err, ENOMEM, "'%s'", name);
        }
        t->opt = *o;
        t->format = o->format;
        *ret = t;
        return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(TraceReader *, trace_reader_free);

int trace_reader_open(const char *path, const TraceOptions *o, TraceReader **ret, ColoError *err) {
        _cleanup_(trace_reader_freep) TraceReader *t = NULL;
        int r = reader_new(path, o, &t, err);
        if (r < 0)
                return r;
        r = line_source_open_file(&t->lines, path, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

int trace_reader_open_buffer(const void *data, size_t size, const char *name, const TraceOptions *o,
                             TraceReader **ret, ColoError *err) {
        _cleanup_(trace_reader_freep) TraceReader *t = NULL;
        int r = reader_new(name, o, &t, err);
        if (r < 0)
                return r;
        line_source_open_buffer(&t->lines, data, size);
        *ret = TAKE_PTR(t);
        return 0;
}

TraceReader *trace_reader_free(TraceReader *r) {
        if (!r)
                return NULL;
        line_source_close(&r->lines);
        trace_azure_free(r->azure);
        trace_alibaba_free(r->alibaba);
        trace_prom_free(r->prom);
        for (size_t i = 0; i < r->n_nodes; i++)
                free(r->nodes[i].name);
        free(r->nodes);
        free(r->queue);
        free(r->name);
        free(r);
        return NULL;
}

/* Auto-detection: 5 fields starting with a timestamp is azure, 9 fields with a timestamp second
 * is alibaba. Lines that fit neither are counted and skipped until one does. */
static TraceFormat detect_format(char **fields, size_t n, TraceRowError *ret_kind) {
        uint64_t t;
        if (n == AZURE_FIELDS) {
                if (trace_parse_seconds(fields[0], &t) == 0)
                        return TRACE_FORMAT_AZURE;
                *ret_kind = TRACE_ROW_BAD_TIMESTAMP;
        } else if (n == ALIBABA_FIELDS) {
                if (trace_parse_seconds(fields[1], &t) == 0)
                        return TRACE_FORMAT_ALIBABA;
                *ret_kind = TRACE_ROW_BAD_TIMESTAMP;
        } else
                *ret_kind = TRACE_ROW_FIELD_COUNT;
        return TRACE_FORMAT_AUTO;
}

static int handle_line(TraceReader *r, char *line, size_t len, bool too_long) {
        char *fields[ALIBABA_FIELDS];

        r->stats.lines++;
        if (too_long) {
                trace_count_malformed(r, TRACE_ROW_TOO_LONG);
                return 0;
        }
        if (len == 0) {
                trace_count_malformed(r, TRACE_ROW_BLANK);
                return 0;
        }
        size_t n = trace_split_fields(line, fields, ELEMENTSOF(fields));
        if (r->format == TRACE_FORMAT_AUTO) {
                TraceRowError kind;
                r->format = detect_format(fields, n, &kind);
                if (r->format == TRACE_FORMAT_AUTO) {
                        trace_count_malformed(r, kind);
                        return 0;
                }
        }
        if (r->format == TRACE_FORMAT_AZURE)
                return trace_azure_row(r, fields, n);
        return trace_alibaba_row(r, fields, n);
}

static int describe_first_problem(const TraceReader *r, char *buf, size_t size) {
        uint64_t first = UINT64_MAX;
        int kind = -1;
        for (int i = 0; i < _TRACE_ROW_ERROR_MAX; i++)
                if (r->stats.malformed[i] && r->stats.first_line[i] < first) {
                        first = r->stats.first_line[i];
                        kind = i;
                }
        if (kind < 0)
                return snprintf(buf, size, "empty file");
        return snprintf(buf, size, "first at line %" PRIu64 ": %s", first, row_error_names[kind]);
}

static int finish(TraceReader *r, ColoError *err) {
        int ret = 0;
        r->finished = true;
        if (r->stats.rows == 0) {
                char what[128];
                (void) describe_first_problem(r, what, sizeof(what));
                return colo_error_setf_plain(err, EBADMSG, "'%s': no valid %s row in %" PRIu64 " lines (%s)", r->name,
                                             r->format == TRACE_FORMAT_AUTO ? "trace" : format_names[r->format],
                                             r->stats.lines, what);
        }
        if (r->format == TRACE_FORMAT_AZURE)
                ret = trace_azure_finish(r, err);
        else if (r->format == TRACE_FORMAT_ALIBABA)
                ret = trace_alibaba_finish(r, err);
        return ret;
}

int trace_reader_next(TraceReader *r, TraceSample *ret, ColoError *err) {
        for (;;) {
                if (r->queue_head < r->queue_len) {
                        *ret = r->queue[r->queue_head++];
                        if (r->queue_head == r->queue_len)
                                r->queue_head = r->queue_len = 0;
                        return 1;
                }
                if (r->finished)
                        return 0;
                /* A JSON document is a Prometheus export; the CSV formats start with a field. */
                if (r->format == TRACE_FORMAT_AUTO && r->stats.lines == 0 && !r->prom &&
                    line_source_peek(&r->lines) == '{')
                        r->format = TRACE_FORMAT_PROMETHEUS;
                if (r->format == TRACE_FORMAT_PROMETHEUS) {
                        int k = trace_prom_advance(r, err);
                        if (k < 0) {
                                r->finished = true;
                                return k;
                        }
                        continue;
                }

                char *line;
                size_t len;
                bool too_long;
                int k = line_source_next(&r->lines, r->name, &line, &len, &too_long, err);
                if (k < 0) {
                        r->finished = true;
                        return k;
                }
                if (k == 0) {
                        k = finish(r, err);
                        if (k < 0)
                                return k;
                        continue;
                }
                k = handle_line(r, line, len, too_long);
                if (k < 0) {
                        r->finished = true;
                        return colo_error_set(err, -k, "'%s': line %" PRIu64, r->name, r->lines.line_no);
                }
        }
}

int64_t trace_reader_drain(TraceReader *r, ColoError *err) {
        TraceSample s;
        int64_t n = 0;
        int k;
        while ((k = trace_reader_next(r, &s, err)) > 0)
                n++;
        return k < 0 ? k : n;
}

const char *trace_reader_name(const TraceReader *r) {
        return r->name;
}

TraceFormat trace_reader_format(const TraceReader *r) {
        return r->format;
}

TraceSignal trace_reader_signal(const TraceReader *r) {
        return r->opt.signal;
}

const TraceStats *trace_reader_stats(const TraceReader *r) {
        return &r->stats;
}

size_t trace_reader_n_nodes(const TraceReader *r) {
        return r->n_nodes;
}

const char *trace_reader_node_name(const TraceReader *r, size_t node) {
        return node < r->n_nodes ? r->nodes[node].name : NULL;
}

const char *trace_reader_node_member(const TraceReader *r, size_t node, size_t i) {
        if (node >= r->n_nodes)
                return NULL;
        if (r->format == TRACE_FORMAT_AZURE)
                return trace_azure_member(r, node, i);
        if (r->format == TRACE_FORMAT_PROMETHEUS)
                return trace_prom_member(r, node, i);
        return i == 0 ? r->nodes[node].name : NULL;
}
