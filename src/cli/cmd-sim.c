/* colo sim: replays a real usage trace (Azure V1 VM CPU readings or Alibaba 2018 machine_usage,
 * gzip or plain) through the agent's predictors and prints, per predictor, the violation rate,
 * the mean savings and the savings as a fraction of the oracle's (src/lib/sim/sim.h has the
 * definitions), and the offline goodput of the job model (src/lib/sim/sim-jobs.h). Everything here is argument parsing; the work is in src/lib/trace and src/lib/sim. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "config/config.h"
#include "sim/sim.h"
#include "trace/trace.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define DEFAULT_PREDICTORS "oracle,limit,borg,nsigma,koord,max(nsigma,peak),colo"
#define MAX_PREDICTORS 32

static void sim_usage(FILE *f) {
        fprintf(f,
                "Usage: colo sim TRACE [OPTIONS]\n\n"
                "Replays a CPU-usage trace through the peak predictors the agent runs. At each step t after the\n"
                "warm-up every predictor predicts each node's peak over (t, t+horizon] from data up to t; a\n"
                "violation is an actual peak above the prediction; savings = 1 - prediction / sum of limits.\n"
                "Steps count scored (node, t) pairs; rates and means are over them.\n\n"
                "  TRACE                    Azure Public Dataset V1 vm_cpu_readings or Alibaba 2018 machine_usage\n"
                "                           file, or the JSON of a Prometheus /api/v1/query_range (usage in cores),\n"
                "                           gzip-compressed or plain\n"
                "      --format FMT         azure, alibaba, prometheus or auto (default: '{' first is prometheus,\n"
                "                           else from the first valid line)\n"
                "      --limits FILE        prometheus: `workload,cores` lines for series without a limit label\n"
                "      --workload-label L   prometheus: label naming a series' workload (default pod)\n"
                "      --limit-label L      prometheus: label holding its CPU limit in cores (default limit)\n"
                "      --node-label L       prometheus: series with equal values share a node (default node;\n"
                "                           series without it are packed --node-size at a time)\n"
                "      --predictors LIST    comma-separated specs (default: %s)\n"
                "      --node-size K        azure, prometheus: VMs or series per simulated node (default 10)\n"
                "      --signal max|avg|mem azure: CPU column used as usage (default max); mem (with\n"
                "                           --format alibaba): the machine's memory instead of CPU\n"
                "      --machine-cores N    alibaba: cores of one machine, the unit of usage (default 96)\n"
                "      --warmup DURATION    history before the first scored step (default 24h)\n"
                "      --horizon DURATION   prediction horizon (default 1h)\n"
                "      --step DURATION      resampling step, whole seconds (default 300s)\n"
                "      --max-gap N          empty steps filled with the last value; longer gaps break (default 3)\n"
                "      --colo-quantile Q    share of peaks colo's predictor covers (default 0.8, the agent's CPU choice)\n"
                "      --job-cpu CORES      offline job size, in the trace's unit (default 0.5: half of one VM's\n"
                "                           limit on azure, half a core on alibaba and prometheus)\n"
                "      --job-hours H        work of one job at full size, in hours (default 1)\n"
                "      --squeeze-tolerance F  evict when jobs get less than 1-F of their size (default 0.1)\n"
                "      --reserved-cpu CORES kept back from the offline budget (default 0: traces include the system)\n"
                "      --cpu-safety-margin F  fraction of capacity kept free above the prediction (default 0.05)\n"
                "      --json               print the results as JSON\n"
                "      --csv DIR            write per-node series to DIR/node-<i>.csv and DIR/nodes.csv\n"
                "      --plot FILE.png      draw predicted vs actual peak of one node (needs gnuplot)\n"
                "      --plot-node N|NAME   node index or name for --plot (default 0)\n",
                DEFAULT_PREDICTORS);
}

/* Splits a predictor list at the commas outside parentheses: "a,max(b,c)" -> "a", "max(b,c)". */
static int split_predictors(char *list, char **specs, size_t max, size_t *ret_n) {
        size_t n = 0;
        int depth = 0;
        char *start = list;
        for (char *p = list;; p++) {
                if (*p == '(')
                        depth++;
                else if (*p == ')')
                        depth--;
                if (*p == '\0' || (*p == ',' && depth == 0)) {
                        bool end = *p == '\0';
                        *p = '\0';
                        while (*start == ' ')
                                start++;
                        if (*start == '\0' || n == max)
                                return -EINVAL;
                        specs[n++] = start;
                        start = p + 1;
                        if (end)
                                break;
                }
        }
        *ret_n = n;
        return 0;
}

static int parse_duration_option(const char *name, const char *value, uint64_t *ret) {
        if (config_parse_duration(value, ret) < 0) {
                fprintf(stderr, "colo sim: --%s: invalid duration '%s' (e.g. 300s, 5m, 1h, 2d)\n", name, value);
                return -EINVAL;
        }
        return 0;
}

static int parse_number_option(const char *name, const char *value, double min, double max, double *ret) {
        double d;
        if (parse_double(value, &d) < 0 || !(d >= min && d <= max)) {
                fprintf(stderr, "colo sim: --%s: expected a number in %g..%g, not '%s'\n", name, min, max, value);
                return -EINVAL;
        }
        *ret = d;
        return 0;
}

enum {
        OPT_FORMAT = 0x100, OPT_PREDICTORS, OPT_NODE_SIZE, OPT_SIGNAL, OPT_WARMUP, OPT_HORIZON,
        OPT_STEP, OPT_MAX_GAP, OPT_JSON, OPT_CSV, OPT_PLOT, OPT_PLOT_NODE, OPT_JOB_CPU, OPT_JOB_HOURS,
        OPT_SQUEEZE_TOLERANCE, OPT_RESERVED_CPU, OPT_CPU_SAFETY_MARGIN, OPT_LIMITS, OPT_WORKLOAD_LABEL,
        OPT_LIMIT_LABEL, OPT_NODE_LABEL, OPT_COLO_QUANTILE, OPT_MACHINE_CORES,
};
static const struct option sim_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "predictors", required_argument, NULL, OPT_PREDICTORS },
        { "node-size", required_argument, NULL, OPT_NODE_SIZE },
        { "signal", required_argument, NULL, OPT_SIGNAL },
        { "warmup", required_argument, NULL, OPT_WARMUP },
        { "horizon", required_argument, NULL, OPT_HORIZON },
        { "step", required_argument, NULL, OPT_STEP },
        { "max-gap", required_argument, NULL, OPT_MAX_GAP },
        { "json", no_argument, NULL, OPT_JSON },
        { "csv", required_argument, NULL, OPT_CSV },
        { "plot", required_argument, NULL, OPT_PLOT },
        { "plot-node", required_argument, NULL, OPT_PLOT_NODE },
        { "job-cpu", required_argument, NULL, OPT_JOB_CPU },
        { "job-hours", required_argument, NULL, OPT_JOB_HOURS },
        { "squeeze-tolerance", required_argument, NULL, OPT_SQUEEZE_TOLERANCE },
        { "reserved-cpu", required_argument, NULL, OPT_RESERVED_CPU },
        { "cpu-safety-margin", required_argument, NULL, OPT_CPU_SAFETY_MARGIN },
        { "limits", required_argument, NULL, OPT_LIMITS },
        { "colo-quantile", required_argument, NULL, OPT_COLO_QUANTILE },
        { "workload-label", required_argument, NULL, OPT_WORKLOAD_LABEL },
        { "limit-label", required_argument, NULL, OPT_LIMIT_LABEL },
        { "node-label", required_argument, NULL, OPT_NODE_LABEL },
        { "machine-cores", required_argument, NULL, OPT_MACHINE_CORES },
        {},
};

typedef struct SimArgs {
        TraceOptions trace;
        SimOptions sim;
        const char *predictors, *csv_dir, *plot_path, *plot_node, *path;
        bool json;
        uint64_t step_usec;
        char *list;                     /* the predictor list, split in place into specs */
        char *specs[MAX_PREDICTORS];
        size_t n_specs;
} SimArgs;

static void sim_args_done(SimArgs *a) {
        free(a->list);
}

/* Options of the trace reader: 1 if c is one, 0 if not, -EINVAL (reported) if its value is bad. */
static int parse_trace_option(int c, const char *arg, SimArgs *a) {
        uint64_t u;

        switch (c) {
        case OPT_FORMAT:
                a->trace.format = trace_format_from_string(arg);
                if (a->trace.format < 0) {
                        fprintf(stderr, "colo sim: --format: expected azure, alibaba, prometheus or auto, not '%s'\n", arg);
                        return -EINVAL;
                }
                return 1;
        case OPT_NODE_SIZE:
                if (parse_u64(arg, &u) < 0 || u == 0 || u > 1000000) {
                        fprintf(stderr, "colo sim: --node-size: expected 1..1000000, not '%s'\n", arg);
                        return -EINVAL;
                }
                a->trace.node_size = (size_t) u;
                return 1;
        case OPT_SIGNAL:
                a->trace.signal = trace_signal_from_string(arg);
                if (a->trace.signal < 0) {
                        fprintf(stderr, "colo sim: --signal: expected max, avg or mem, not '%s'\n", arg);
                        return -EINVAL;
                }
                return 1;
        case OPT_STEP:
                if (parse_duration_option("step", arg, &a->step_usec) < 0)
                        return -EINVAL;
                if (a->step_usec == 0 || a->step_usec % USEC_PER_SEC != 0) {
                        fprintf(stderr, "colo sim: --step: expected a positive whole number of seconds, not '%s'\n",
                                arg);
                        return -EINVAL;
                }
                return 1;
        case OPT_MAX_GAP:
                if (parse_u64(arg, &u) < 0 || u > 100000) {
                        fprintf(stderr, "colo sim: --max-gap: expected 0..100000 steps, not '%s'\n", arg);
                        return -EINVAL;
                }
                a->trace.max_gap_steps = (unsigned) u;
                return 1;
        case OPT_MACHINE_CORES:
                return parse_number_option("machine-cores", arg, 1.0, 1e6, &a->trace.machine_cores) < 0 ? -EINVAL : 1;
        case OPT_LIMITS:
                a->trace.limits_path = arg;
                return 1;
        case OPT_WORKLOAD_LABEL:
                a->trace.workload_label = arg;
                return 1;
        case OPT_LIMIT_LABEL:
                a->trace.limit_label = arg;
                return 1;
        case OPT_NODE_LABEL:
                a->trace.node_label = arg;
                return 1;
        default:
                return 0;
        }
}

/* Options of the predictors and the job model, as parse_trace_option(). */
static int parse_model_option(int c, const char *arg, SimArgs *a) {
        double d;

        switch (c) {
        case OPT_WARMUP:
                if (parse_duration_option("warmup", arg, &a->sim.warmup_usec) < 0)
                        return -EINVAL;
                return 1;
        case OPT_HORIZON:
                if (parse_duration_option("horizon", arg, &a->sim.params.horizon_usec) < 0)
                        return -EINVAL;
                return 1;
        case OPT_COLO_QUANTILE:
                if (parse_number_option("colo-quantile", arg, 0.5, 0.9999, &a->sim.params.colo_quantile) < 0)
                        return -EINVAL;
                return 1;
        case OPT_JOB_CPU:
                if (parse_number_option("job-cpu", arg, 1e-6, 1e6, &a->sim.jobs.job_cpu) < 0)
                        return -EINVAL;
                return 1;
        case OPT_JOB_HOURS:
                if (parse_number_option("job-hours", arg, 1.0 / 3600.0, 24.0 * 365.0, &d) < 0)
                        return -EINVAL;
                a->sim.jobs.job_usec = (uint64_t) (d * 3600.0 * (double) USEC_PER_SEC);
                return 1;
        case OPT_SQUEEZE_TOLERANCE:
                if (parse_number_option("squeeze-tolerance", arg, 0.0, 0.999, &a->sim.jobs.squeeze_tolerance) < 0)
                        return -EINVAL;
                return 1;
        case OPT_RESERVED_CPU:
                if (parse_number_option("reserved-cpu", arg, 0.0, 1024.0, &a->sim.jobs.policy.reserved_cpu_cores) < 0)
                        return -EINVAL;
                return 1;
        case OPT_CPU_SAFETY_MARGIN:
                if (parse_number_option("cpu-safety-margin", arg, 0.0, 0.999,
                                        &a->sim.jobs.policy.cpu_safety_margin) < 0)
                        return -EINVAL;
                return 1;
        default:
                return 0;
        }
}

/* Options of the output, as parse_trace_option(). */
static int parse_output_option(int c, const char *arg, SimArgs *a) {
        switch (c) {
        case OPT_PREDICTORS:
                a->predictors = arg;
                return 1;
        case OPT_JSON:
                a->json = true;
                return 1;
        case OPT_CSV:
                a->csv_dir = arg;
                return 1;
        case OPT_PLOT:
                a->plot_path = arg;
                return 1;
        case OPT_PLOT_NODE:
                a->plot_node = arg;
                return 1;
        default:
                return 0;
        }
}

/* Fills *a from the command line (sim_args_done() frees it): 0, 1 after --help (printed), or
 * -EINVAL / -ENOMEM (reported). */
static int parse_args(int argc, char **argv, SimArgs *a) {
        int c;

        *a = (SimArgs) { .predictors = DEFAULT_PREDICTORS, .step_usec = 300 * USEC_PER_SEC };
        trace_options_init_defaults(&a->trace);
        sim_options_init_defaults(&a->sim);
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", sim_options, NULL)) >= 0) {
                if (c == 'h') {
                        sim_usage(stdout);
                        return 1;
                }
                int r = parse_trace_option(c, optarg, a);
                if (r == 0)
                        r = parse_model_option(c, optarg, a);
                if (r == 0)
                        r = parse_output_option(c, optarg, a);
                if (r < 0)
                        return r;
                if (r == 0) {
                        sim_usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, "colo sim: expected exactly one TRACE file\n\n");
                sim_usage(stderr);
                return -EINVAL;
        }
        if (a->plot_node && !a->plot_path) {
                fprintf(stderr, "colo sim: --plot-node needs --plot FILE.png\n");
                return -EINVAL;
        }
        a->path = argv[optind];
        a->trace.step_sec = a->step_usec / USEC_PER_SEC;
        a->sim.step_usec = a->step_usec;
        a->list = strdup(a->predictors);
        if (!a->list) {
                log_error("Out of memory.");
                return -ENOMEM;
        }
        if (split_predictors(a->list, a->specs, MAX_PREDICTORS, &a->n_specs) < 0) {
                fprintf(stderr, "colo sim: --predictors: expected up to %d comma-separated specs, got '%s'\n",
                        MAX_PREDICTORS, a->predictors);
                free(a->list);
                a->list = NULL;
                return -EINVAL;
        }
        return 0;
}

/* The warning about skipped rows, the results, and where series and plot went. */
static int print_result(const SimArgs *a, const TraceReader *reader, const SimResult *result, ColoError *err) {
        const TraceStats *st = trace_reader_stats(reader);
        if (trace_stats_malformed_total(st) > 0)
                log_warning("Trace '%s': skipped %" PRIu64 " malformed rows of %" PRIu64 " lines, ignoring.", a->path,
                            trace_stats_malformed_total(st), st->lines);
        if (a->json) {
                int r = sim_result_print_json(result, stdout, err);
                if (r < 0)
                        return r;
        } else
                sim_result_print_text(result, stdout);
        if (a->csv_dir)
                fprintf(a->json ? stderr : stdout, "series written to '%s'\n", a->csv_dir);
        if (a->plot_path)
                fprintf(a->json ? stderr : stdout, "plot written to '%s'\n", a->plot_path);
        return 0;
}

int cmd_sim(int argc, char **argv) {
        _cleanup_(sim_args_done) SimArgs a = {};
        int k = parse_args(argc, argv, &a);
        if (k != 0)
                return k > 0 ? 0 : k == -ENOMEM ? 1 : 2;

        char **specs = a.specs;
        size_t n_specs = a.n_specs;

        ColoError err = {};
        TraceReader *reader = NULL;
        Sim *sim = NULL;
        SimCsv *csv = NULL;
        SimPlot *plot = NULL;
        SimResult *result = NULL;
        int ret = 1, r;

        r = sim_new((const char *const *) specs, n_specs, &a.sim, &sim, &err);
        if (r < 0) {
                fprintf(stderr, "colo sim: %s\n", colo_error_msg(&err));
                return 2;
        }
        r = trace_reader_open(a.path, &a.trace, &reader, &err);
        if (r < 0) {
                fprintf(stderr, "colo sim: %s\n", colo_error_msg(&err));
                ret = r == -EINVAL ? 2 : 1;
                goto finish;
        }
        if (a.csv_dir) {
                r = sim_csv_new(a.csv_dir, (const char *const *) specs, n_specs, &csv, &err);
                if (r >= 0)
                        r = sim_add_observer(sim, sim_csv_observe, csv);
                if (r < 0)
                        goto fail;
        }
        if (a.plot_path) {
                r = sim_plot_new(a.plot_path, a.plot_node, reader, (const char *const *) specs, n_specs,
                                 a.sim.params.horizon_usec, a.sim.step_usec, &plot, &err);
                if (r >= 0)
                        r = sim_add_observer(sim, sim_plot_observe, plot);
                if (r < 0)
                        goto fail;
        }

        r = sim_run_trace(sim, reader, &result, &err);
        if (r < 0)
                goto fail;
        if (csv) {
                r = sim_csv_finish(csv, reader, &err);
                if (r < 0)
                        goto fail;
        }
        if (plot) {
                r = sim_plot_render(plot, &err);
                if (r < 0)
                        goto fail;
        }

        r = print_result(&a, reader, result, &err);
        if (r < 0)
                goto fail;
        ret = fflush(stdout) == 0 ? 0 : 1;
        goto finish;

fail:
        fprintf(stderr, "colo sim: %s\n", colo_error_msg(&err));
finish:
        sim_result_free(result);
        sim_plot_free(plot);
        sim_csv_free(csv);
        sim_free(sim);
        trace_reader_free(reader);
        return ret;
}
