/* The simulator proper (rules in sim.h). Each node keeps a ring of the samples not yet scored:
 * a sample at t is scored once a sample at or after t + horizon has arrived, so the ring holds
 * at most horizon / step + 1 entries and the predictors observe strictly in time order, never
 * ahead of the step they predict from. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

#define MAX_OBSERVERS 8

typedef struct SimEntry {
        uint64_t t;
        double usage;
        double limit;
} SimEntry;

typedef struct SimNode {
        bool started;
        uint64_t first_t, last_t;
        SimEntry *ring;                 /* ring_cap entries */
        size_t head, len;
        Predictor **predictors;         /* n_predictors */
        uint64_t steps;
        uint64_t *violations;           /* per predictor */
        SimJobSet *jobs;                /* per predictor, then the oracle reference */
        bool jobs_ran;
        uint64_t jobs_last_t;           /* the last step the jobs ran, to see a series break */
} SimNode;

typedef struct SimTotals {
        uint64_t violations;
        double savings_sum;
        double shortfall_sum;
} SimTotals;

struct Sim {
        SimOptions opt;
        char **specs;
        size_t n_predictors;
        size_t horizon_samples;         /* grid points in (t, t + horizon] */
        size_t ring_cap;

        SimNode *nodes;
        size_t n_nodes;

        SimTotals *totals;              /* per predictor */
        double *predictions;            /* scratch, per predictor */
        uint64_t steps, steps_skipped;
        double oracle_savings_sum;
        SimJobTotals *job_totals;       /* per predictor, then the oracle reference */
        double capacity_time, online_time, idle_time;   /* limit, usage, idle CPU-seconds */

        struct {
                SimObserverFn fn;
                void *userdata;
        } observers[MAX_OBSERVERS];
        size_t n_observers;
};

void sim_options_init_defaults(SimOptions *o) {
        *o = (SimOptions) {
                .warmup_usec = 24 * 3600 * USEC_PER_SEC,
                .step_usec = 300 * USEC_PER_SEC,
        };
        predictor_params_init_defaults(&o->params);
        /* The simulator replays CPU: colo runs with the agent's CPU choice. */
        o->params.colo_quantile = PREDICTOR_COLO_CPU_QUANTILE;
        sim_job_options_init_defaults(&o->jobs);
}

static void node_done(Sim *s, SimNode *n) {
        if (n->predictors)
                for (size_t i = 0; i < s->n_predictors; i++)
                        predictor_free(n->predictors[i]);
        free(n->predictors);
        free(n->violations);
        if (n->jobs)
                for (size_t i = 0; i <= s->n_predictors; i++)
                        sim_job_set_done(&n->jobs[i]);
        free(n->jobs);
        free(n->ring);
}

Sim *sim_free(Sim *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_nodes; i++)
                node_done(s, &s->nodes[i]);
        free(s->nodes);
        for (size_t i = 0; i < s->n_predictors; i++)
                free(s->specs[i]);
        free(s->specs);
        free(s->totals);
        free(s->predictions);
        free(s->job_totals);
        free(s);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Sim *, sim_free);

int sim_new(const char *const *specs, size_t n_specs, const SimOptions *o, Sim **ret, ColoError *err) {
        int r;

        if (n_specs == 0)
                return colo_error_setf_plain(err, EINVAL, "no predictor given");
        if (o->step_usec == 0)
                return colo_error_setf_plain(err, EINVAL, "step must be positive");
        if (o->params.horizon_usec < o->step_usec)
                return colo_error_setf_plain(err, EINVAL,
                                             "horizon (%" PRIu64 " s) shorter than the step (%" PRIu64 " s)",
                                             o->params.horizon_usec / USEC_PER_SEC, o->step_usec / USEC_PER_SEC);
        if (o->params.horizon_usec / o->step_usec > 1000000)
                return colo_error_setf_plain(err, EINVAL, "horizon holds more than 1000000 steps");
        r = predictor_params_validate(&o->params, err);
        if (r < 0)
                return r;
        const char *what;
        if (sim_job_options_check(&o->jobs, &what) < 0)
                return colo_error_setf_plain(err, EINVAL, "job model: invalid %s", what);

        _cleanup_(sim_freep) Sim *s = calloc(1, sizeof(*s));
        if (!s)
                return colo_error_set(err, ENOMEM, "simulator");
        s->opt = *o;
        s->horizon_samples = o->params.horizon_usec / o->step_usec;
        s->ring_cap = s->horizon_samples + 2;
        s->specs = calloc(n_specs, sizeof(char *));
        s->totals = calloc(n_specs, sizeof(SimTotals));
        s->predictions = calloc(n_specs, sizeof(double));
        s->job_totals = calloc(n_specs + 1, sizeof(SimJobTotals));
        if (!s->specs || !s->totals || !s->predictions || !s->job_totals)
                return colo_error_set(err, ENOMEM, "simulator");
        for (size_t i = 0; i < n_specs; i++) {
                /* Build one now so a bad spec fails here, not at the first sample. */
                Predictor *p = NULL;
                r = predictor_new(specs[i], &o->params, true, &p, err);
                if (r < 0)
                        return r;
                predictor_free(p);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(specs[j], specs[i]) == 0)
                                return colo_error_setf_plain(err, EINVAL, "predictor '%s' given twice", specs[i]);
                s->specs[i] = strdup(specs[i]);
                if (!s->specs[i])
                        return colo_error_set(err, ENOMEM, "simulator");
                s->n_predictors = i + 1;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int sim_add_observer(Sim *s, SimObserverFn fn, void *userdata) {
        if (s->n_observers >= MAX_OBSERVERS)
                return -E2BIG;
        s->observers[s->n_observers].fn = fn;
        s->observers[s->n_observers].userdata = userdata;
        s->n_observers++;
        return 0;
}

static int node_init(Sim *s, SimNode *n, ColoError *err) {
        n->ring = calloc(s->ring_cap, sizeof(SimEntry));
        n->predictors = calloc(s->n_predictors, sizeof(Predictor *));
        n->violations = calloc(s->n_predictors, sizeof(uint64_t));
        n->jobs = calloc(s->n_predictors + 1, sizeof(SimJobSet));
        if (!n->ring || !n->predictors || !n->violations || !n->jobs)
                return colo_error_set(err, ENOMEM, "simulator node");
        for (size_t i = 0; i < s->n_predictors; i++) {
                int r = predictor_new(s->specs[i], &s->opt.params, true, &n->predictors[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int ensure_node(Sim *s, size_t node, ColoError *err) {
        if (node < s->n_nodes)
                return 0;
        if (node >= SIZE_MAX / sizeof(SimNode) / 2)
                return colo_error_setf_plain(err, EINVAL, "node index %zu too large", node);
        SimNode *nodes = realloc(s->nodes, (node + 1) * sizeof(SimNode));
        if (!nodes)
                return colo_error_set(err, ENOMEM, "simulator nodes");
        memset(nodes + s->n_nodes, 0, (node + 1 - s->n_nodes) * sizeof(SimNode));
        s->nodes = nodes;
        for (size_t i = s->n_nodes; i <= node; i++) {
                s->n_nodes = i + 1; /* node_done() copes with a half-built node */
                int r = node_init(s, &s->nodes[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const SimEntry *ring_at(const Sim *s, const SimNode *n, size_t i) {
        return &n->ring[(n->head + i) % s->ring_cap];
}

/* The job model's step (t, t + step] after the scored entry e, next being the sample at its end;
 * prediction i is s->predictions[i], the oracle reference's is the actual peak. */
static int run_jobs(Sim *s, SimNode *n, const SimEntry *e, const SimEntry *next, double peak, ColoError *err) {
        double step_sec = (double) s->opt.step_usec / (double) USEC_PER_SEC;
        double available = MAX(next->limit - next->usage, 0.0);

        s->capacity_time += next->limit * step_sec;
        s->online_time += MIN(next->usage, next->limit) * step_sec;
        s->idle_time += available * step_sec;
        /* After a break (a gap, or steps not scored) the node's load in between is unknown: the
         * running jobs end there as at the end of the trace, neither done nor lost, rather than
         * resuming against a load their placement never saw. */
        bool broken = n->jobs_ran && e->t != n->jobs_last_t + s->opt.step_usec;
        n->jobs_ran = true;
        n->jobs_last_t = e->t;
        for (size_t i = 0; i <= s->n_predictors; i++) {
                if (broken)
                        sim_job_set_interrupt(&n->jobs[i]);
                double pred = i < s->n_predictors ? s->predictions[i] : CLAMP(peak, 0.0, e->limit);
                double budget = sim_jobs_budget(&s->opt.jobs, e->limit, e->usage, pred);
                if (sim_jobs_step(&n->jobs[i], &s->opt.jobs, budget, available, step_sec, &s->job_totals[i]) < 0)
                        return colo_error_set(err, ENOMEM, "simulator jobs");
        }
        return 0;
}

static int score(Sim *s, SimNode *n, size_t node, const SimEntry *e, const SimEntry *next, double peak,
                 ColoError *err) {
        double limit = e->limit;
        for (size_t i = 0; i < s->n_predictors; i++) {
                double pred = predictor_predict(n->predictors[i], e->t, limit, peak);
                pred = isnan(pred) ? limit : CLAMP(pred, 0.0, limit);
                s->predictions[i] = pred;
                s->totals[i].savings_sum += 1.0 - pred / limit;
                if (peak > pred + SIM_VIOLATION_EPSILON * limit) {
                        s->totals[i].violations++;
                        s->totals[i].shortfall_sum += (peak - pred) / limit;
                        n->violations[i]++;
                }
        }
        s->oracle_savings_sum += 1.0 - CLAMP(peak, 0.0, limit) / limit;
        n->steps++;
        s->steps++;
        int r = run_jobs(s, n, e, next, peak, err);
        if (r < 0)
                return r;

        SimStep step = {
                .node = node,
                .t_usec = e->t,
                .usage = e->usage,
                .limit = limit,
                .future_peak = peak,
                .predictions = s->predictions,
                .n_predictors = s->n_predictors,
        };
        for (size_t i = 0; i < s->n_observers; i++) {
                r = s->observers[i].fn(s->observers[i].userdata, &step, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Observes and, past the warm-up, scores the oldest entry, whose horizon is over. */
static int process_front(Sim *s, SimNode *n, size_t node, ColoError *err) {
        const SimEntry *e = ring_at(s, n, 0);
        uint64_t horizon_end = e->t + s->opt.params.horizon_usec;

        for (size_t i = 0; i < s->n_predictors; i++)
                predictor_observe(n->predictors[i], e->t, e->usage, e->limit);

        if (e->t - n->first_t >= s->opt.warmup_usec) {
                double peak = -INFINITY;
                size_t covered = 0;
                for (size_t i = 1; i < n->len; i++) {
                        const SimEntry *f = ring_at(s, n, i);
                        if (f->t > horizon_end)
                                break;
                        peak = MAX(peak, f->usage);
                        covered++;
                }
                if (covered == s->horizon_samples) {
                        int r = score(s, n, node, e, ring_at(s, n, 1), peak, err);
                        if (r < 0)
                                return r;
                } else
                        s->steps_skipped++;
        }
        n->head = (n->head + 1) % s->ring_cap;
        n->len--;
        return 0;
}

int sim_feed(Sim *s, const TraceSample *sample, ColoError *err) {
        if (sample->t_usec % s->opt.step_usec != 0)
                return colo_error_setf_plain(err, EINVAL, "node %zu: time %" PRIu64 " us not on the %" PRIu64 " s grid",
                                             sample->node, sample->t_usec, s->opt.step_usec / USEC_PER_SEC);
        if (!isfinite(sample->usage) || sample->usage < 0 || !isfinite(sample->limit) || sample->limit <= 0)
                return colo_error_setf_plain(err, EINVAL, "node %zu: time %" PRIu64 " us: usage %g or limit %g invalid",
                                             sample->node, sample->t_usec, sample->usage, sample->limit);
        if (sample->node < s->n_nodes && s->nodes[sample->node].started &&
            sample->t_usec <= s->nodes[sample->node].last_t)
                return colo_error_setf_plain(err, EINVAL, "node %zu: time %" PRIu64 " us not after %" PRIu64 " us",
                                             sample->node, sample->t_usec, s->nodes[sample->node].last_t);
        int r = ensure_node(s, sample->node, err);
        if (r < 0)
                return r;

        SimNode *n = &s->nodes[sample->node];
        if (!n->started) {
                n->started = true;
                n->first_t = sample->t_usec;
        }
        n->last_t = sample->t_usec;
        n->ring[(n->head + n->len) % s->ring_cap] = (SimEntry) {
                .t = sample->t_usec,
                .usage = sample->usage,
                .limit = sample->limit,
        };
        n->len++;
        /* Entries within one horizon of the newest stay: at most horizon / step + 1 of them. */
        while (n->len > 0 && ring_at(s, n, 0)->t + s->opt.params.horizon_usec <= sample->t_usec) {
                r = process_front(s, n, sample->node, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

SimResult *sim_result_free(SimResult *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_predictors; i++)
                free(r->predictors[i].name);
        free(r->predictors);
        free(r->trace);
        free(r);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(SimResult *, sim_result_free);

static void job_result(const Sim *s, const SimJobTotals *t, const SimResult *r, SimPredictorResult *p) {
        double node_hours = (double) s->steps * (double) s->opt.step_usec / (double) USEC_PER_SEC / 3600.0;
        double attempted = t->completed_work + t->lost_work;
        p->goodput = t->completed_work / s->capacity_time;
        p->goodput_vs_oracle = r->oracle_goodput > 0 ? p->goodput / r->oracle_goodput : NAN;
        p->offline_work_lost = attempted > 0 ? t->lost_work / attempted : 0.0;
        p->evictions = t->evictions;
        p->completed_jobs = t->completions;
        p->evictions_per_node_hour = (double) t->evictions / node_hours;
        p->utilisation_online = r->utilisation_online;
        p->utilisation_total = (s->online_time + t->offline_used) / s->capacity_time;
}

int sim_finish(Sim *s, SimResult **ret, ColoError *err) {
        size_t nodes = 0;
        for (size_t i = 0; i < s->n_nodes; i++)
                nodes += s->nodes[i].started;
        if (s->steps == 0)
                return colo_error_setf_plain(err, EBADMSG,
                                             "no step to score: %zu nodes, each shorter than the warm-up (%" PRIu64
                                             " s) plus the horizon (%" PRIu64 " s)",
                                             nodes, s->opt.warmup_usec / USEC_PER_SEC,
                                             s->opt.params.horizon_usec / USEC_PER_SEC);

        _cleanup_(sim_result_freep) SimResult *r = calloc(1, sizeof(*r));
        if (!r)
                return colo_error_set(err, ENOMEM, "simulator result");
        r->predictors = calloc(s->n_predictors, sizeof(SimPredictorResult));
        if (!r->predictors)
                return colo_error_set(err, ENOMEM, "simulator result");
        r->n_predictors = s->n_predictors;
        r->nodes = nodes;
        r->steps = s->steps;
        r->steps_skipped = s->steps_skipped;
        r->horizon_usec = s->opt.params.horizon_usec;
        r->step_usec = s->opt.step_usec;
        r->warmup_usec = s->opt.warmup_usec;
        r->oracle_savings = s->oracle_savings_sum / (double) s->steps;
        r->jobs = s->opt.jobs;
        r->elastic_bound = s->idle_time / s->capacity_time;
        r->utilisation_online = s->online_time / s->capacity_time;
        r->oracle_goodput = s->job_totals[s->n_predictors].completed_work / s->capacity_time;

        for (size_t i = 0; i < s->n_predictors; i++) {
                SimPredictorResult *p = &r->predictors[i];
                const SimTotals *t = &s->totals[i];
                p->name = strdup(s->specs[i]);
                if (!p->name)
                        return colo_error_set(err, ENOMEM, "simulator result");
                p->violations = t->violations;
                p->violation_rate = (double) t->violations / (double) s->steps;
                p->savings = t->savings_sum / (double) s->steps;
                p->savings_vs_oracle = r->oracle_savings > 0 ? p->savings / r->oracle_savings : NAN;
                p->mean_shortfall = t->violations ? t->shortfall_sum / (double) t->violations : 0;
                job_result(s, &s->job_totals[i], r, p);
                for (size_t j = 0; j < s->n_nodes; j++)
                        if (s->nodes[j].steps > 0)
                                p->worst_node_violation_rate =
                                        MAX(p->worst_node_violation_rate,
                                            (double) s->nodes[j].violations[i] / (double) s->nodes[j].steps);
        }
        *ret = TAKE_PTR(r);
        return 0;
}

int sim_run_trace(Sim *s, TraceReader *reader, SimResult **ret, ColoError *err) {
        TraceSample sample;
        int r;

        while ((r = trace_reader_next(reader, &sample, err)) > 0) {
                r = sim_feed(s, &sample, err);
                if (r < 0)
                        return colo_error_wrap(err, "'%s'", trace_reader_name(reader));
        }
        if (r < 0)
                return r;
        SimResult *result;
        r = sim_finish(s, &result, err);
        if (r < 0)
                return colo_error_wrap(err, "'%s'", trace_reader_name(reader));
        result->trace = strdup(trace_reader_name(reader));
        if (!result->trace) {
                sim_result_free(result);
                return colo_error_set(err, ENOMEM, "simulator result");
        }
        result->format = trace_reader_format(reader);
        result->signal = trace_reader_signal(reader);
        result->trace_stats = *trace_reader_stats(reader);
        *ret = result;
        return 0;
}
