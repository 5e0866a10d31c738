/* Simulator output: the text tables and the JSON document (jansson). The per-node CSV series and
 * the plot are in sim-series.c. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

/* ---- text ---- */

static void print_percent(FILE *f, double v, int width) {
        if (isfinite(v))
                fprintf(f, "%*.2f%%", width - 1, 100.0 * v);
        else
                fprintf(f, "%*s", width, "-");
}

static void print_prometheus_summary(const TraceStats *st, FILE *f) {
        fprintf(f, "  %" PRIu64 " series used, %" PRIu64 " without a limit skipped, %" PRIu64 " ended early (stale)\n",
                st->sources, st->series_without_limit, st->series_ended);
        fprintf(f, "  %" PRIu64 " values; missing: %" PRIu64 " NaN or Inf, %" PRIu64 " negative; %" PRIu64
                   " clamped to the limit\n", st->rows, st->values_not_finite, st->values_negative, st->values_clamped);
        fprintf(f, "  missing readings: %" PRIu64 " carried forward, %" PRIu64 " counted as 0\n", st->vm_readings_carried,
                st->vm_readings_absent);
        fprintf(f, "  gaps: %" PRIu64 " empty steps filled, %" PRIu64 " skipped in %" PRIu64 " breaks\n",
                st->gap_steps_filled, st->gap_steps_skipped, st->series_breaks);
}

static void print_trace_summary(const SimResult *r, FILE *f) {
        const TraceStats *st = &r->trace_stats;
        bool azure = r->format == TRACE_FORMAT_AZURE;

        if (r->format == TRACE_FORMAT_PROMETHEUS) {
                print_prometheus_summary(st, f);
                return;
        }

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
        if (r->signal == TRACE_SIGNAL_MEM) {
                fprintf(f, "\noffline jobs: not shown for memory (the job model squeezes CPU; memory cannot be)\n");
                return;
        }
        /* Azure gives no core counts: its unit is a VM's limit. The other readers are in cores. */
        const char *unit = r->format == TRACE_FORMAT_AZURE ? "VM limits" : "cores";
        fprintf(f, "\noffline jobs of %.3g %s x %.3g h, evicted when squeezed by more than %.0f%%:\n",
                r->jobs.job_cpu, unit, (double) r->jobs.job_usec / (double) USEC_PER_SEC / 3600.0,
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
        if (r->format == TRACE_FORMAT_PROMETHEUS) {
                json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "series", (json_int_t) st->sources,
                                      "series_without_limit", (json_int_t) st->series_without_limit, "series_ended",
                                      (json_int_t) st->series_ended, "values_not_finite", (json_int_t) st->values_not_finite,
                                      "values_negative", (json_int_t) st->values_negative, "values_clamped",
                                      (json_int_t) st->values_clamped, "readings_carried",
                                      (json_int_t) st->vm_readings_carried, "readings_absent",
                                      (json_int_t) st->vm_readings_absent);
                bad |= set_new(root, "prometheus", o);
        }
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
