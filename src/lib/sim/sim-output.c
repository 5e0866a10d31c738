/* Simulator output: the text table, the JSON document (jansson), per-node CSV series and the
 * gnuplot chart of one node. CSV and plot are observers fed during the run, so no series is
 * kept in memory: rows stream to files (a small cache of open files serves many nodes). */
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sim/sim.h"

/* ---- text ---- */

static void print_percent(FILE *f, double v, int width) {
        if (isfinite(v))
                fprintf(f, "%*.2f%%", width - 1, 100.0 * v);
        else
                fprintf(f, "%*s", width, "-");
}

static void print_trace_summary(const SimResult *r, FILE *f) {
        const TraceStats *st = &r->trace_stats;
        bool azure = r->format == TRACE_FORMAT_AZURE;

        fprintf(f, "  %" PRIu64 " lines, %" PRIu64 " valid rows, %" PRIu64 " malformed; %" PRIu64 " %s", st->lines,
                st->rows, trace_stats_malformed_total(st), st->sources, azure ? "VMs" : "machines");
        if (azure)
                fprintf(f, " (%" PRIu64 " dropped with the incomplete last node)", st->sources_dropped);
        fprintf(f, "\n");
        for (int k = 0; k < _TRACE_ROW_ERROR_MAX; k++)
                if (st->malformed[k])
                        fprintf(f, "    skipped %" PRIu64 " row%s: %s (first at line %" PRIu64 ")\n", st->malformed[k], st->malformed[k] == 1 ? "" : "s",
                                trace_row_error_to_string(k), st->first_line[k]);
        if (azure && (st->vm_readings_carried || st->vm_readings_absent))
                fprintf(f, "  missing VM readings: %" PRIu64 " carried forward, %" PRIu64 " counted as 0\n",
                        st->vm_readings_carried, st->vm_readings_absent);
        fprintf(f, "  gaps: %" PRIu64 " empty steps filled, %" PRIu64 " skipped in %" PRIu64 " breaks\n",
                st->gap_steps_filled, st->gap_steps_skipped, st->series_breaks);
}

static void print_jobs_table(const SimResult *r, int width, FILE *f) {
        fprintf(f, "\noffline jobs of %.3g cores x %.3g h, evicted when squeezed by more than %.0f%%:\n",
                r->jobs.job_cpu, (double) r->jobs.job_usec / (double) USEC_PER_SEC / 3600.0,
                100.0 * r->jobs.squeeze_tolerance);
        fprintf(f, "%-*s  %8s  %9s  %9s  %12s  %11s  %10s\n", width, "predictor", "goodput", "vs oracle", "work lost",
                "evict/node-h", "util online", "util total");
        for (size_t i = 0; i < r->n_predictors; i++) {
                const SimPredictorResult *p = &r->predictors[i];
                fprintf(f, "%-*s  %8.3f  ", width, p->name, p->goodput);
                print_percent(f, p->goodput_vs_oracle, 9);
                fprintf(f, "  ");
                print_percent(f, p->offline_work_lost, 9);
                fprintf(f, "  %12.4f  ", p->evictions_per_node_hour);
                print_percent(f, p->utilisation_online, 11);
                fprintf(f, "  ");
                print_percent(f, p->utilisation_total, 10);
                fprintf(f, "\n");
        }
        fprintf(f, "\noracle goodput %.3f, elastic bound %.3f (mean idle capacity). goodput: completed job work /\n"
                   "(sum of limits x time); work lost: evicted work / (completed + evicted work); util: mean usage /\n"
                   "sum of limits without and with the CPU the jobs got.\n",
                r->oracle_goodput, r->elastic_bound);
}

void sim_result_print_text(const SimResult *r, FILE *f) {
        size_t width = strlen("predictor");
        for (size_t i = 0; i < r->n_predictors; i++)
                width = MAX(width, strlen(r->predictors[i].name));

        fprintf(f, "%s", r->trace ? r->trace : "(samples)");
        if (r->trace)
                fprintf(f, " (%s)", trace_format_to_string(r->format));
        fprintf(f, ": %zu nodes, %" PRIu64 " scored steps (node x time)", r->nodes, r->steps);
        if (r->steps_skipped)
                fprintf(f, ", %" PRIu64 " skipped at gaps", r->steps_skipped);
        fprintf(f, "\n  step %" PRIu64 " s, horizon %" PRIu64 " s, warm-up %" PRIu64 " s\n",
                r->step_usec / USEC_PER_SEC, r->horizon_usec / USEC_PER_SEC, r->warmup_usec / USEC_PER_SEC);
        if (r->trace)
                print_trace_summary(r, f);

        fprintf(f, "\n%-*s  %10s  %8s  %9s  %10s  %9s\n", (int) width, "predictor", "violations", "savings",
                "vs oracle", "worst node", "shortfall");
        for (size_t i = 0; i < r->n_predictors; i++) {
                const SimPredictorResult *p = &r->predictors[i];
                fprintf(f, "%-*s  ", (int) width, p->name);
                print_percent(f, p->violation_rate, 10);
                fprintf(f, "  %8.3f  ", p->savings);
                print_percent(f, p->savings_vs_oracle, 9);
                fprintf(f, "  ");
                print_percent(f, p->worst_node_violation_rate, 10);
                fprintf(f, "  %9.3f\n", p->mean_shortfall);
        }
        print_jobs_table(r, (int) width, f);
        fprintf(f, "\noracle savings %.3f. violations: share of scored steps whose actual peak over the horizon\n"
                   "exceeds the prediction; savings: mean of 1 - prediction / sum of limits; shortfall: mean\n"
                   "(peak - prediction) / limit over violations.\n",
                r->oracle_savings);
}

/* ---- JSON ---- */

static json_t *json_number(double v) {
        return isfinite(v) ? json_real(v) : json_null();
}

static int set_new(json_t *o, const char *key, json_t *v) {
        return v ? json_object_set_new(o, key, v) : -1;
}

json_t *sim_result_to_json(const SimResult *r) {
        json_t *root = json_object(), *preds = json_array(), *malformed = json_object();
        int bad = !root || !preds || !malformed;
        const TraceStats *st = &r->trace_stats;

        bad |= set_new(root, "trace", r->trace ? json_string(r->trace) : json_null());
        bad |= set_new(root, "nodes", json_integer((json_int_t) r->nodes));
        bad |= set_new(root, "steps", json_integer((json_int_t) r->steps));
        bad |= set_new(root, "horizon_s", json_integer((json_int_t) (r->horizon_usec / USEC_PER_SEC)));
        for (size_t i = 0; !bad && i < r->n_predictors; i++) {
                const SimPredictorResult *p = &r->predictors[i];
                json_t *o = json_object();
                bad |= !o || json_array_append_new(preds, o);
                if (bad)
                        break;
                bad |= set_new(o, "name", json_string(p->name));
                bad |= set_new(o, "violation_rate", json_number(p->violation_rate));
                bad |= set_new(o, "savings", json_number(p->savings));
                bad |= set_new(o, "savings_vs_oracle", json_number(p->savings_vs_oracle));
                bad |= set_new(o, "violations", json_integer((json_int_t) p->violations));
                bad |= set_new(o, "worst_node_violation_rate", json_number(p->worst_node_violation_rate));
                bad |= set_new(o, "mean_shortfall", json_number(p->mean_shortfall));
                bad |= set_new(o, "goodput", json_number(p->goodput));
                bad |= set_new(o, "goodput_vs_oracle", json_number(p->goodput_vs_oracle));
                bad |= set_new(o, "offline_work_lost", json_number(p->offline_work_lost));
                bad |= set_new(o, "evictions_per_node_hour", json_number(p->evictions_per_node_hour));
                bad |= set_new(o, "evictions", json_integer((json_int_t) p->evictions));
                bad |= set_new(o, "completed_jobs", json_integer((json_int_t) p->completed_jobs));
                bad |= set_new(o, "utilisation_online", json_number(p->utilisation_online));
                bad |= set_new(o, "utilisation_total", json_number(p->utilisation_total));
        }
        bad |= set_new(root, "predictors", preds);
        preds = NULL;
        bad |= set_new(root, "format", r->trace ? json_string(trace_format_to_string(r->format)) : json_null());
        bad |= set_new(root, "step_s", json_integer((json_int_t) (r->step_usec / USEC_PER_SEC)));
        bad |= set_new(root, "warmup_s", json_integer((json_int_t) (r->warmup_usec / USEC_PER_SEC)));
        bad |= set_new(root, "steps_skipped", json_integer((json_int_t) r->steps_skipped));
        bad |= set_new(root, "oracle_savings", json_number(r->oracle_savings));
        bad |= set_new(root, "oracle_goodput", json_number(r->oracle_goodput));
        bad |= set_new(root, "elastic_bound", json_number(r->elastic_bound));
        bad |= set_new(root, "utilisation_online", json_number(r->utilisation_online));
        bad |= set_new(root, "job_cpu", json_number(r->jobs.job_cpu));
        bad |= set_new(root, "job_hours", json_number((double) r->jobs.job_usec / (double) USEC_PER_SEC / 3600.0));
        bad |= set_new(root, "squeeze_tolerance", json_number(r->jobs.squeeze_tolerance));
        bad |= set_new(root, "cpu_safety_margin", json_number(r->jobs.policy.cpu_safety_margin));
        bad |= set_new(root, "reserved_cpu", json_number(r->jobs.policy.reserved_cpu_cores));
        bad |= set_new(root, "rows", json_integer((json_int_t) st->rows));
        bad |= set_new(root, "malformed_rows", json_integer((json_int_t) trace_stats_malformed_total(st)));
        for (int k = 0; !bad && k < _TRACE_ROW_ERROR_MAX; k++)
                if (st->malformed[k]) {
                        json_t *o = json_pack("{s:I,s:I}", "count", (json_int_t) st->malformed[k], "first_line",
                                              (json_int_t) st->first_line[k]);
                        bad |= set_new(malformed, trace_row_error_to_string(k), o);
                }
        bad |= set_new(root, "malformed", malformed);
        malformed = NULL;
        bad |= set_new(root, "gap_steps_filled", json_integer((json_int_t) st->gap_steps_filled));
        bad |= set_new(root, "gap_steps_skipped", json_integer((json_int_t) st->gap_steps_skipped));
        if (bad) {
                json_decref(preds);
                json_decref(malformed);
                json_decref(root);
                return NULL;
        }
        return root;
}

int sim_result_print_json(const SimResult *r, FILE *f, ColoError *err) {
        json_t *j = sim_result_to_json(r);
        if (!j)
                return colo_error_set(err, ENOMEM, "simulator JSON");
        int k = json_dumpf(j, f, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        json_decref(j);
        if (k < 0 || fputc('\n', f) == EOF)
                return colo_error_set(err, EIO, "write JSON");
        return 0;
}

/* ---- CSV ---- */

#define CSV_OPEN_FILES 64

typedef struct CsvFile {
        FILE *f;
        size_t node;
        uint64_t last_use;
} CsvFile;

struct SimCsv {
        char *dir;
        char *header;
        bool *created;          /* per node: its file exists and has the header */
        size_t n_created;
        CsvFile open[CSV_OPEN_FILES];
        uint64_t clock;
};

/* Appends s to buf as a CSV field, quoted if it holds a comma, quote or newline. */
static int csv_field(char **buf, size_t *len, const char *s) {
        bool quote = strpbrk(s, ",\"\n\r") != NULL;
        size_t need = *len + 2 * strlen(s) + 4;
        char *b = realloc(*buf, need);
        if (!b)
                return -ENOMEM;
        *buf = b;
        if (*len > 0)
                b[(*len)++] = ',';
        if (quote)
                b[(*len)++] = '"';
        for (; *s; s++) {
                if (*s == '"')
                        b[(*len)++] = '"';
                b[(*len)++] = *s;
        }
        if (quote)
                b[(*len)++] = '"';
        b[*len] = '\0';
        return 0;
}

SimCsv *sim_csv_free(SimCsv *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < CSV_OPEN_FILES; i++)
                if (c->open[i].f)
                        (void) fclose(c->open[i].f);
        free(c->created);
        free(c->header);
        free(c->dir);
        free(c);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(SimCsv *, sim_csv_free);

int sim_csv_new(const char *dir, const char *const *specs, size_t n_specs, SimCsv **ret, ColoError *err) {
        _cleanup_(sim_csv_freep) SimCsv *c = calloc(1, sizeof(*c));
        size_t len = 0;
        if (!c || !(c->dir = strdup(dir)))
                return colo_error_set(err, ENOMEM, "CSV output");
        static const char *const fixed[] = { "t_s", "usage", "limit", "future_peak" };
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                if (csv_field(&c->header, &len, fixed[i]) < 0)
                        return colo_error_set(err, ENOMEM, "CSV output");
        for (size_t i = 0; i < n_specs; i++)
                if (csv_field(&c->header, &len, specs[i]) < 0)
                        return colo_error_set(err, ENOMEM, "CSV output");
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return colo_error_set(err, errno, "create '%s'", dir);
        struct stat st;
        if (stat(dir, &st) < 0)
                return colo_error_set(err, errno, "'%s'", dir);
        if (!S_ISDIR(st.st_mode))
                return colo_error_set(err, ENOTDIR, "'%s'", dir);
        *ret = TAKE_PTR(c);
        return 0;
}

/* The open file of node, opening it (and evicting the least recently used) if needed. */
static int csv_file(SimCsv *c, size_t node, FILE **ret, ColoError *err) {
        size_t victim = 0;
        c->clock++;
        for (size_t i = 0; i < CSV_OPEN_FILES; i++) {
                if (c->open[i].f && c->open[i].node == node) {
                        c->open[i].last_use = c->clock;
                        *ret = c->open[i].f;
                        return 0;
                }
                if (!c->open[i].f || (c->open[victim].f && c->open[i].last_use < c->open[victim].last_use))
                        victim = i;
        }
        if (c->open[victim].f && fclose(c->open[victim].f) != 0) {
                c->open[victim].f = NULL;
                return colo_error_set(err, errno, "write '%s/node-%zu.csv'", c->dir, c->open[victim].node);
        }
        c->open[victim].f = NULL;

        if (node >= c->n_created) {
                size_t n = MAX(node + 1, c->n_created * 2);
                bool *created = realloc(c->created, n * sizeof(bool));
                if (!created)
                        return colo_error_set(err, ENOMEM, "CSV output");
                memset(created + c->n_created, 0, (n - c->n_created) * sizeof(bool));
                c->created = created;
                c->n_created = n;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/node-%zu.csv", c->dir, node);
        FILE *f = fopen(path, c->created[node] ? "ae" : "we");
        if (!f)
                return colo_error_set(err, errno, "open '%s'", path);
        if (!c->created[node])
                fprintf(f, "%s\n", c->header);
        c->created[node] = true;
        c->open[victim] = (CsvFile) { .f = f, .node = node, .last_use = c->clock };
        *ret = f;
        return 0;
}

int sim_csv_observe(void *userdata, const SimStep *step, ColoError *err) {
        SimCsv *c = userdata;
        FILE *f;
        int r = csv_file(c, step->node, &f, err);
        if (r < 0)
                return r;
        fprintf(f, "%" PRIu64 ",%.9g,%.9g,%.9g", step->t_usec / USEC_PER_SEC, step->usage, step->limit,
                step->future_peak);
        for (size_t i = 0; i < step->n_predictors; i++)
                fprintf(f, ",%.9g", step->predictions[i]);
        if (fputc('\n', f) == EOF)
                return colo_error_set(err, errno ? errno : EIO, "write '%s/node-%zu.csv'", c->dir, step->node);
        return 0;
}

int sim_csv_finish(SimCsv *c, const TraceReader *reader, ColoError *err) {
        int ret = 0;
        for (size_t i = 0; i < CSV_OPEN_FILES; i++)
                if (c->open[i].f) {
                        if (fclose(c->open[i].f) != 0 && ret == 0)
                                ret = colo_error_set(err, errno, "write '%s/node-%zu.csv'", c->dir, c->open[i].node);
                        c->open[i].f = NULL;
                }
        if (ret < 0)
                return ret;

        char path[4096];
        snprintf(path, sizeof(path), "%s/nodes.csv", c->dir);
        FILE *f = fopen(path, "we");
        if (!f)
                return colo_error_set(err, errno, "open '%s'", path);
        fprintf(f, "index,name,members,file\n");
        size_t n = reader ? trace_reader_n_nodes(reader) : c->n_created;
        for (size_t node = 0; node < n; node++) {
                char *line = NULL, *members = NULL, num[32];
                size_t len = 0, mlen = 0;
                const char *m;
                snprintf(num, sizeof(num), "%zu", node);
                int k = csv_field(&line, &len, num);
                k |= csv_field(&line, &len, reader ? trace_reader_node_name(reader, node) : num);
                for (size_t i = 0; k == 0 && reader && (m = trace_reader_node_member(reader, node, i)); i++) {
                        char *b = realloc(members, mlen + strlen(m) + 2);
                        if (!b) {
                                k = -ENOMEM;
                                break;
                        }
                        members = b;
                        mlen += (size_t) sprintf(members + mlen, "%s%s", mlen ? " " : "", m);
                }
                k |= csv_field(&line, &len, members ? members : "");
                snprintf(num, sizeof(num), "node-%zu.csv", node);
                k |= csv_field(&line, &len, node < c->n_created && c->created[node] ? num : "");
                if (k == 0)
                        fprintf(f, "%s\n", line);
                free(line);
                free(members);
                if (k != 0) {
                        (void) fclose(f);
                        return colo_error_set(err, ENOMEM, "write '%s'", path);
                }
        }
        if (fclose(f) != 0)
                return colo_error_set(err, errno, "write '%s'", path);
        return 0;
}

/* ---- plot ---- */

struct SimPlot {
        char *png_path;
        char *node_selector;
        bool selector_is_index;
        size_t node;                    /* when resolved */
        bool resolved;
        const TraceReader *reader;
        char **specs;
        size_t n_specs;
        uint64_t horizon_usec, step_usec;
        double limit;
        uint64_t rows;
        uint64_t last_t;
        char tmpdir[256];
        char data_path[300], script_path[300], log_path[300];
        FILE *data;
};

SimPlot *sim_plot_free(SimPlot *p) {
        if (!p)
                return NULL;
        if (p->data)
                (void) fclose(p->data);
        if (p->tmpdir[0]) {
                (void) unlink(p->data_path);
                (void) unlink(p->script_path);
                (void) unlink(p->log_path);
                (void) rmdir(p->tmpdir);
        }
        for (size_t i = 0; i < p->n_specs; i++)
                free(p->specs[i]);
        free(p->specs);
        free(p->node_selector);
        free(p->png_path);
        free(p);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(SimPlot *, sim_plot_free);

int sim_plot_new(const char *png_path, const char *node, const TraceReader *reader, const char *const *specs,
                 size_t n_specs, uint64_t horizon_usec, uint64_t step_usec, SimPlot **ret, ColoError *err) {
        _cleanup_(sim_plot_freep) SimPlot *p = calloc(1, sizeof(*p));
        if (!p)
                return colo_error_set(err, ENOMEM, "plot");
        if (!node || !*node)
                node = "0";
        p->png_path = strdup(png_path);
        p->node_selector = strdup(node);
        p->specs = calloc(n_specs, sizeof(char *));
        if (!p->png_path || !p->node_selector || !p->specs)
                return colo_error_set(err, ENOMEM, "plot");
        for (; p->n_specs < n_specs; p->n_specs++)
                if (!(p->specs[p->n_specs] = strdup(specs[p->n_specs])))
                        return colo_error_set(err, ENOMEM, "plot");
        p->selector_is_index = strspn(node, "0123456789") == strlen(node);
        if (p->selector_is_index) {
                p->node = strtoul(node, NULL, 10);
                p->resolved = true;
        }
        p->reader = reader;
        p->horizon_usec = horizon_usec;
        p->step_usec = step_usec;

        const char *tmp = getenv("TMPDIR");
        snprintf(p->tmpdir, sizeof(p->tmpdir), "%s/colo-sim-plot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(p->tmpdir)) {
                int e = errno;
                p->tmpdir[0] = '\0';
                return colo_error_set(err, e, "create a temporary directory for the plot");
        }
        snprintf(p->data_path, sizeof(p->data_path), "%s/series.csv", p->tmpdir);
        snprintf(p->script_path, sizeof(p->script_path), "%s/plot.gp", p->tmpdir);
        snprintf(p->log_path, sizeof(p->log_path), "%s/gnuplot.log", p->tmpdir);
        p->data = fopen(p->data_path, "we");
        if (!p->data)
                return colo_error_set(err, errno, "open '%s'", p->data_path);
        *ret = TAKE_PTR(p);
        return 0;
}

int sim_plot_observe(void *userdata, const SimStep *step, ColoError *err) {
        SimPlot *p = userdata;
        if (!p->resolved) {
                const char *name = p->reader ? trace_reader_node_name(p->reader, step->node) : NULL;
                if (!name || strcmp(name, p->node_selector) != 0)
                        return 0;
                p->node = step->node;
                p->resolved = true;
        }
        if (step->node != p->node)
                return 0;
        /* A blank line makes gnuplot break the lines where steps were not scored (gaps). */
        if (p->rows > 0 && step->t_usec - p->last_t > p->step_usec)
                fputc('\n', p->data);
        p->last_t = step->t_usec;
        fprintf(p->data, "%" PRIu64 ",%.9g,%.9g,%.9g", step->t_usec / USEC_PER_SEC, step->usage, step->limit,
                step->future_peak);
        for (size_t i = 0; i < step->n_predictors; i++)
                fprintf(p->data, ",%.9g", step->predictions[i]);
        if (fputc('\n', p->data) == EOF)
                return colo_error_set(err, errno ? errno : EIO, "write '%s'", p->data_path);
        p->limit = step->limit;
        p->rows++;
        return 0;
}

/* A gnuplot single-quoted string: quotes are doubled. */
static void gp_string(FILE *f, const char *s) {
        fputc('\'', f);
        for (; *s; s++) {
                if (*s == '\'')
                        fputc('\'', f);
                if (*s != '\n' && *s != '\r')
                        fputc(*s, f);
        }
        fputc('\'', f);
}

/* Distinct from the black actual peak and the grey usage. */
static const char *const plot_colors[] = {
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
};

static int write_script(SimPlot *p, ColoError *err) {
        FILE *f = fopen(p->script_path, "we");
        if (!f)
                return colo_error_set(err, errno, "open '%s'", p->script_path);
        const char *node_name = p->reader ? trace_reader_node_name(p->reader, p->node) : NULL;
        char title[512];
        snprintf(title, sizeof(title), "%s, node %s: peak over the next %" PRIu64 " min, predicted vs actual",
                 p->reader ? trace_reader_name(p->reader) : "trace", node_name ? node_name : p->node_selector,
                 p->horizon_usec / USEC_PER_SEC / 60);

        fprintf(f, "set terminal pngcairo size 1600,700 noenhanced\nset output ");
        gp_string(f, p->png_path);
        fprintf(f, "\nset datafile separator ','\nset title ");
        gp_string(f, title);
        fprintf(f, "\nset xlabel 'time (days from the trace start)'\n"
                   "set ylabel 'CPU (limit %.3g)'\nset key outside right top\nset grid\n"
                   "set yrange [0:%.6g]\n",
                p->limit, p->limit * 1.05);
        fprintf(f, "plot ");
        gp_string(f, p->data_path);
        fprintf(f, " using ($1/86400):2 with lines lc rgb '#bbbbbb' title 'usage'");
        for (size_t i = 0, color = 0; i < p->n_specs; i++) {
                if (strcmp(p->specs[i], "oracle") == 0)
                        continue; /* it is the actual peak */
                fprintf(f, ", \\\n  '' using ($1/86400):%zu with lines lc rgb '%s' title ", i + 5,
                        plot_colors[color++ % ELEMENTSOF(plot_colors)]);
                gp_string(f, p->specs[i]);
        }
        /* Last, so it is drawn on top. */
        fprintf(f, ", \\\n  '' using ($1/86400):4 with lines lw 2 lc rgb 'black' title 'actual peak'\n");
        if (fclose(f) != 0)
                return colo_error_set(err, errno, "write '%s'", p->script_path);
        return 0;
}

int sim_plot_render(SimPlot *p, ColoError *err) {
        int r;

        if (fclose(p->data) != 0) {
                p->data = NULL;
                return colo_error_set(err, errno, "write '%s'", p->data_path);
        }
        p->data = NULL;
        if (p->rows == 0)
                return colo_error_setf_plain(err, ENODATA, "plot: node '%s' has no scored step%s", p->node_selector,
                                             p->reader ? " (see nodes with --csv)" : "");
        r = write_script(p, err);
        if (r < 0)
                return r;

        posix_spawn_file_actions_t fa;
        if (posix_spawn_file_actions_init(&fa) != 0)
                return colo_error_set(err, ENOMEM, "run gnuplot");
        (void) posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        (void) posix_spawn_file_actions_addopen(&fa, 1, p->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        (void) posix_spawn_file_actions_adddup2(&fa, 1, 2);
        char *argv[] = { (char *) "gnuplot", p->script_path, NULL };
        extern char **environ;
        pid_t pid;
        r = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r == ENOENT)
                return colo_error_setf_plain(err, ENOENT,
                                             "plot: gnuplot not found in PATH (Debian: apt-get install gnuplot-nox)");
        if (r != 0)
                return colo_error_set(err, r, "plot: run gnuplot");
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return colo_error_set(err, errno, "plot: wait for gnuplot");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char log[512] = "";
                FILE *l = fopen(p->log_path, "re");
                if (l) {
                        size_t n = fread(log, 1, sizeof(log) - 1, l);
                        log[n] = '\0';
                        (void) fclose(l);
                }
                for (char *c = log; *c; c++)
                        if (*c == '\n' || *c == '\r' || *c == '\t')
                                *c = ' ';
                return colo_error_setf_plain(err, EIO, "plot: gnuplot failed writing '%s'%s%s", p->png_path,
                                             log[0] ? ": " : "", log);
        }
        return 0;
}
