/* Trace-replay simulator: runs the agent's own predictors (predict/predictor.h) over per-node
 * usage series (trace/trace.h) and scores them.
 *
 * Each node gets its own instance of every predictor. At each step t of a node (samples are on a
 * grid of step_usec), every predictor first observes the sample at t, then, once t is at least
 * warmup_usec after the node's first sample, predicts the node's peak over (t, t + horizon].
 * The simulator learns that actual peak by holding one horizon of samples per node in a lookahead
 * buffer; predictors see it only as the future_peak argument, which only the oracle reads. A step
 * whose horizon is not fully covered by samples (a gap the reader skipped, or the end of the
 * trace) is not scored; gap-skipped ones are counted in steps_skipped.
 *
 * Scoring a step, with limit the node's sum of limits at t and pred the prediction clamped to
 * [0, limit] (a NaN prediction counts as the limit: no overselling):
 *     violation  iff  actual peak > pred + 1e-9 x limit   (the tolerance absorbs float rounding,
 *                                                          so predicting the exact peak is safe)
 *     savings    = 1 - pred / limit
 * Per predictor: violation rate = violations / scored steps, savings = mean savings over scored
 * steps, savings_vs_oracle = savings / the oracle's savings (the oracle's prediction is the actual
 * peak, computed whether or not "oracle" is among the predictors; NaN when it is 0).
 * Memory is O(nodes x (predictor windows + horizon)); nothing grows with the trace's length. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "predict/predictor.h"
#include "sim/sim-jobs.h"
#include "trace/trace.h"
#include "util/error.h"

typedef struct json_t json_t;

#define SIM_VIOLATION_EPSILON 1e-9

typedef struct SimOptions {
        PredictorParams params;         /* params.horizon_usec is the horizon (1 h) */
        uint64_t warmup_usec;           /* 24 h */
        uint64_t step_usec;             /* the samples' grid, 300 s; horizon >= step */
        SimJobOptions jobs;             /* the offline job model (sim-jobs.h) */
} SimOptions;

void sim_options_init_defaults(SimOptions *o);

/* One scored (node, t), handed to observers (CSV writer, plot). predictions[i] is predictor i's,
 * clamped as scored. */
typedef struct SimStep {
        size_t node;
        uint64_t t_usec;
        double usage;
        double limit;
        double future_peak;
        const double *predictions;
        size_t n_predictors;
} SimStep;

/* Returns 0, or -errno to abort the run (the error is the observer's to fill). */
typedef int (*SimObserverFn)(void *userdata, const SimStep *step, ColoError *err);

typedef struct SimPredictorResult {
        char *name;                     /* the spec */
        uint64_t violations;
        double violation_rate;
        double savings;
        double savings_vs_oracle;
        double worst_node_violation_rate;
        double mean_shortfall;          /* mean (actual peak - prediction) / limit over violations, 0 if none */
        /* The job model (sim-jobs.h), over the scored steps (t, t + step]: */
        double goodput;                 /* completed job work / (sum of limits x time) */
        double goodput_vs_oracle;       /* / the oracle's goodput; NaN when that is 0 */
        double offline_work_lost;       /* evicted work / (completed + evicted work), 0 if none */
        double evictions_per_node_hour;
        double utilisation_online;      /* online usage / sum of limits (the same for all) */
        double utilisation_total;       /* (online usage + CPU the jobs got) / sum of limits */
        uint64_t evictions, completed_jobs;
} SimPredictorResult;

typedef struct SimResult {
        char *trace;                    /* file name, NULL when fed directly */
        TraceFormat format;
        TraceSignal signal;             /* mem: the series is memory, which the job model does not apply to */
        TraceStats trace_stats;         /* zero when fed directly */
        size_t nodes;                   /* nodes that had samples */
        uint64_t steps;                 /* scored (node, t) pairs, the same for every predictor */
        uint64_t steps_skipped;         /* after warm-up, horizon not covered because of a gap */
        uint64_t horizon_usec, step_usec, warmup_usec;
        double oracle_savings;
        SimJobOptions jobs;
        double oracle_goodput;          /* the job model with the actual peak as the prediction */
        double elastic_bound;           /* mean idle capacity: max(0, limit - usage) / limit */
        double utilisation_online;
        size_t n_predictors;
        SimPredictorResult *predictors;
} SimResult;

SimResult *sim_result_free(SimResult *r);       /* NULL-safe, returns NULL */

typedef struct Sim Sim;

/* Builds a simulator for the given predictor specs (as accepted by predictor_new(), the oracle
 * allowed). Fails with -EINVAL naming the bad spec or option. */
int sim_new(const char *const *specs, size_t n_specs, const SimOptions *o, Sim **ret, ColoError *err);
Sim *sim_free(Sim *s);                          /* NULL-safe, returns NULL */

/* Observers are called for every scored step, in order of scoring. At most 8. */
int sim_add_observer(Sim *s, SimObserverFn fn, void *userdata);

/* Feeds one sample. Each node's times must strictly increase and be multiples of step_usec,
 * usage finite and >= 0, limit finite and > 0: else -EINVAL naming the node and time, and the
 * simulator is unchanged. Amortised O(predictors) per sample, O(horizon / step) for the peak. */
int sim_feed(Sim *s, const TraceSample *sample, ColoError *err);

/* Scores what can be scored and returns the results; -EBADMSG if no step could be scored
 * (trace shorter than warm-up plus horizon). The simulator must be freed afterwards. */
int sim_finish(Sim *s, SimResult **ret, ColoError *err);

/* The whole run over a trace reader: every sample fed, then finished; the reader's name,
 * format and statistics are copied into the result. */
int sim_run_trace(Sim *s, TraceReader *reader, SimResult **ret, ColoError *err);

/* Output (sim-output.c). */
void sim_result_print_text(const SimResult *r, FILE *f);
/* {"trace":..., "nodes":N, "steps":S, "horizon_s":H, "predictors":[{"name":..., "violation_rate":...,
 *  "savings":..., "savings_vs_oracle":...}], ...}; non-finite numbers are null. NULL on ENOMEM. */
json_t *sim_result_to_json(const SimResult *r);
int sim_result_print_json(const SimResult *r, FILE *f, ColoError *err);

/* --csv DIR: DIR/node-<index>.csv per node (t_s,usage,limit,future_peak,<one column per
 * predictor>; scored steps only) and DIR/nodes.csv (index,name,members). DIR is created if
 * missing. Register sim_csv_observe with the writer as userdata; call finish after the run. */
typedef struct SimCsv SimCsv;
int sim_csv_new(const char *dir, const char *const *specs, size_t n_specs, SimCsv **ret, ColoError *err);
int sim_csv_observe(void *userdata, const SimStep *step, ColoError *err);
int sim_csv_finish(SimCsv *c, const TraceReader *reader, ColoError *err);
SimCsv *sim_csv_free(SimCsv *c);

/* --plot FILE.png: records one node's scored steps (node given by index, or by name resolved
 * against the reader; NULL means "0") in a temporary file and draws the actual future peak, the
 * usage and each predictor's prediction with gnuplot (a subprocess running a generated script),
 * lines broken where steps more than step_usec apart were not scored. -ENOENT with a clear
 * message if gnuplot is not installed; -ENODATA if the node had no scored step. */
typedef struct SimPlot SimPlot;
int sim_plot_new(const char *png_path, const char *node, const TraceReader *reader, const char *const *specs,
                 size_t n_specs, uint64_t horizon_usec, uint64_t step_usec, SimPlot **ret, ColoError *err);
int sim_plot_observe(void *userdata, const SimStep *step, ColoError *err);
int sim_plot_render(SimPlot *p, ColoError *err);
SimPlot *sim_plot_free(SimPlot *p);
