/* Per-workload usage profiles and the node's online peak prediction (see profile-set.h); the
 * checkpoints of a set are in profile-set-checkpoint.c.
 * Workloads live in an array sorted by name; an observe() merges the sorted samples into it,
 * building the new array aside so that a failure leaves the old one untouched. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/checkpoint.h"
#include "predict/histogram.h"
#include "predict/profile-set-internal.h"
#include "predict/profile-set.h"
#include "predict/profile.h"
#include "util/fileio.h"

void profile_set_config_init_defaults(ProfileSetConfig *c) {
        *c = (ProfileSetConfig) {
                .predictor_spec = "colo",
                .min_history_usec = 3600 * USEC_PER_SEC,
                .half_life_usec = 12 * 3600 * USEC_PER_SEC,
                .day_buckets = 48,
                .day_half_life_usec = 3 * 24 * 3600 * USEC_PER_SEC,
                .max_workloads = 4096,
                .forget_after_usec = 10 * 60 * USEC_PER_SEC,
        };
        predictor_params_init_defaults(&c->params);
        c->params.colo_quantile = PREDICTOR_COLO_CPU_QUANTILE;
        c->mem_colo_quantile = PREDICTOR_COLO_STRICT_QUANTILE;
}

/* The memory predictor's parameters: the CPU ones but for its own, strict, colo quantile. */
static PredictorParams mem_params(const ProfileSetConfig *c) {
        PredictorParams p = c->params;
        p.colo_quantile = c->mem_colo_quantile;
        return p;
}

/* CPU in cores from a thousandth of a core, memory in bytes from 1 MiB, both growing 5 % a
 * bucket (the VPA's resolution), up to about 1,700 cores and 64 TiB. */
static const HistogramConfig cpu_histogram = { .first = 0.001, .growth = 1.05, .n_buckets = 300 };
static const HistogramConfig mem_histogram = { .first = 1048576.0, .growth = 1.05, .n_buckets = 380 };

Workload *workload_free(Workload *w) {
        if (!w)
                return NULL;
        free(w->name);
        histogram_free(w->cpu_hist);
        histogram_free(w->mem_hist);
        day_profile_free(w->cpu_day);
        day_profile_free(w->mem_day);
        free(w);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Predictor *, predictor_free);

int workload_new(const ProfileSetConfig *cfg, const char *name, Workload **ret) {
        _cleanup_(workload_freep) Workload *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->name = strdup(name);
        if (!w->name)
                return -ENOMEM;
        HistogramConfig hc = cpu_histogram, hm = mem_histogram;
        hc.half_life_usec = hm.half_life_usec = cfg->half_life_usec;
        DayProfileConfig dc;
        day_profile_config_init_defaults(&dc);
        dc.n_buckets = cfg->day_buckets;
        dc.half_life_usec = cfg->day_half_life_usec;
        int r;
        if ((r = histogram_new(&hc, &w->cpu_hist)) < 0 || (r = histogram_new(&hm, &w->mem_hist)) < 0 ||
            (r = day_profile_new(&dc, &w->cpu_day)) < 0 || (r = day_profile_new(&dc, &w->mem_day)) < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

static void workload_observe(Workload *w, uint64_t t, const ProfileSample *x) {
        w->absent = false;
        if (w->samples == 0)
                w->first_usec = t;
        w->samples++;
        w->last_usec = t;
        w->cpu = x->cpu;
        w->mem = (double) x->mem;
        w->cpu_limit = x->cpu_limit;
        w->mem_limit = (double) x->mem_limit;
        w->cpu_max = MAX(w->cpu_max, w->cpu);
        w->mem_max = MAX(w->mem_max, w->mem);
        histogram_add(w->cpu_hist, t, w->cpu, 1.0);
        histogram_add(w->mem_hist, t, w->mem, 1.0);
        day_profile_add(w->cpu_day, t, w->cpu);
        day_profile_add(w->mem_day, t, w->mem);
}

static void workloads_free(Workload **w, size_t n) {
        for (size_t i = 0; i < n; i++)
                workload_free(w[i]);
        free(w);
}

ProfileSet *profile_set_free(ProfileSet *s) {
        if (!s)
                return NULL;
        predictor_free(s->cpu_pred);
        predictor_free(s->mem_pred);
        workloads_free(s->workloads, s->n_workloads);
        free(s->spec);
        free(s);
        return NULL;
}


int profile_set_new(const ProfileSetConfig *cfg, ProfileSet **ret, ColoError *err) {
        if (!cfg->predictor_spec)
                return colo_error_setf_plain(err, EINVAL, "profile set: no predictor spec");
        if (cfg->half_life_usec == 0 || cfg->day_half_life_usec == 0)
                return colo_error_setf_plain(err, EINVAL, "profile set: half-lives must be positive");
        if (cfg->day_buckets == 0 || cfg->day_buckets > DAY_PROFILE_MAX_BUCKETS ||
            (24 * 3600 * USEC_PER_SEC) % cfg->day_buckets != 0)
                return colo_error_setf_plain(err, EINVAL, "profile set: %u time-of-day buckets do not divide a day",
                                             cfg->day_buckets);
        if (cfg->max_workloads == 0)
                return colo_error_setf_plain(err, EINVAL, "profile set: max_workloads must be positive");
        _cleanup_(profile_set_freep) ProfileSet *s = calloc(1, sizeof(*s));
        if (!s)
                return colo_error_set(err, ENOMEM, "profile set");
        s->cfg = *cfg;
        s->spec = strdup(cfg->predictor_spec);
        if (!s->spec)
                return colo_error_set(err, ENOMEM, "profile set");
        s->cfg.predictor_spec = s->spec;
        PredictorParams mp = mem_params(cfg);
        int r = predictor_new(s->spec, &cfg->params, false, &s->cpu_pred, err);
        if (r < 0)
                return r;
        r = predictor_new(s->spec, &mp, false, &s->mem_pred, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

static int compare_sample_ptr(const void *a, const void *b) {
        const ProfileSample *x = *(const ProfileSample *const *) a, *y = *(const ProfileSample *const *) b;
        return strcmp(x->name, y->name);
}

static int validate_sample(const ProfileSample *x, size_t i, ColoError *err) {
        if (!x->name || !x->name[0])
                return colo_error_setf_plain(err, EINVAL, "sample %zu: empty workload name", i);
        if (strnlen(x->name, PROFILE_NAME_MAX + 1) > PROFILE_NAME_MAX)
                return colo_error_setf_plain(err, EINVAL, "sample %zu: workload name longer than %d bytes", i,
                                             PROFILE_NAME_MAX);
        if (!isfinite(x->cpu) || x->cpu < 0 || !isfinite(x->cpu_limit) || x->cpu_limit < 0)
                return colo_error_setf_plain(err, EINVAL, "workload '%s': CPU %g or limit %g invalid", x->name, x->cpu,
                                             x->cpu_limit);
        return 0;
}

/* The sum of the workloads' limits, or the capacity when some limit is unknown (or none is set
 * yet: then the larger of the known limits and the current total, so the series has a scale). */
static double node_limit(const ProfileSet *s, bool cpu) {
        double sum = 0;
        bool all = false;
        for (size_t i = 0; i < s->n_workloads; i++)
                all = all || !s->workloads[i]->absent;
        for (size_t i = 0; i < s->n_workloads; i++) {
                if (s->workloads[i]->absent)
                        continue;       /* not running: no limit to add */
                double l = cpu ? s->workloads[i]->cpu_limit : s->workloads[i]->mem_limit;
                if (l > 0)
                        sum += l;
                else
                        all = false;
        }
        double capacity = cpu ? s->cpu_capacity : s->mem_capacity, now = cpu ? s->node_cpu : s->node_mem;
        if (all)
                return MAX(sum, now);
        if (capacity > 0)
                return MAX(capacity, now);
        return MAX(sum, now);
}

/* The workloads after one observe(), built aside: next[i] is sampled by sample_of[i], or kept
 * through an absence (sample_of[i] NULL); dropped are freed on commit, created on failure. */
typedef struct ObserveMerge {
        Workload **next;
        const ProfileSample **sample_of;
        bool *created;
        size_t n;
        Workload **dropped;
        size_t n_dropped;
        const char *failed_name;
} ObserveMerge;

static void observe_merge_done(ObserveMerge *m, bool failed) {
        for (size_t i = 0; failed && m->next && i < m->n; i++)
                if (m->created[i])
                        workload_free(m->next[i]);
        free(m->next);
        free(m->sample_of);
        free(m->created);
        free(m->dropped);
        *m = (ObserveMerge) {};
}

/* An absent workload keeps its profile for forget_after after its last sample (and while the
 * clock stands before that sample), as long as the set has room. */
static bool workload_kept(const ProfileSet *s, const Workload *w, uint64_t t, size_t n_present, size_t n_kept) {
        if (n_present + n_kept >= s->cfg.max_workloads)
                return false;
        return t <= w->last_usec || t - w->last_usec < s->cfg.forget_after_usec;
}

/* Merges the sorted samples into the sorted workloads, creating profiles for new names; nothing
 * of s changes. Returns 0 or -ENOMEM (m->failed_name says for which workload). */
static int merge_workloads(const ProfileSet *s, uint64_t t, const ProfileSample **sorted, size_t n, ObserveMerge *m) {
        size_t cap = MAX(n + s->n_workloads, (size_t) 1);
        m->next = calloc(cap, sizeof(*m->next));
        m->sample_of = calloc(cap, sizeof(*m->sample_of));
        m->created = calloc(cap, sizeof(*m->created));
        m->dropped = calloc(MAX(s->n_workloads, (size_t) 1), sizeof(*m->dropped));
        if (!m->next || !m->sample_of || !m->created || !m->dropped)
                return -ENOMEM;
        size_t i = 0, j = 0, kept = 0;
        while (i < n || j < s->n_workloads) {
                int c = i >= n ? 1 : j >= s->n_workloads ? -1 : strcmp(sorted[i]->name, s->workloads[j]->name);
                if (c > 0) {            /* absent this time */
                        Workload *w = s->workloads[j++];
                        if (workload_kept(s, w, t, n, kept)) {
                                m->next[m->n++] = w;
                                kept++;
                        } else
                                m->dropped[m->n_dropped++] = w;
                        continue;
                }
                if (c == 0)
                        m->next[m->n] = s->workloads[j++];
                else {
                        int r = workload_new(&s->cfg, sorted[i]->name, &m->next[m->n]);
                        if (r < 0) {
                                m->failed_name = sorted[i]->name;
                                return r;
                        }
                        m->created[m->n] = true;
                }
                m->sample_of[m->n++] = sorted[i++];
        }
        return 0;
}

int profile_set_observe(ProfileSet *s, uint64_t realtime_usec, const ProfileSample *samples, size_t n,
                        double node_online_cpu, uint64_t node_online_mem, ColoError *err) {
        if (!isfinite(node_online_cpu) || node_online_cpu < 0)
                return colo_error_setf_plain(err, EINVAL, "node online CPU %g invalid", node_online_cpu);
        if (n > s->cfg.max_workloads)
                return colo_error_setf_plain(err, E2BIG, "%zu online workloads exceed the limit of %u", n,
                                             s->cfg.max_workloads);
        for (size_t i = 0; i < n; i++) {
                int r = validate_sample(&samples[i], i, err);
                if (r < 0)
                        return r;
        }
        /* A clock stepped back by more than a horizon would freeze the predictors' windows for as
         * long: they start over instead (built here, swapped in below, so failure changes nothing). */
        _cleanup_(predictor_freep) Predictor *fresh_cpu = NULL, *fresh_mem = NULL;
        bool restart = s->started && realtime_usec < s->last_usec &&
                       s->last_usec - realtime_usec > s->cfg.params.horizon_usec;
        if (restart) {
                int r = predictor_new(s->spec, &s->cfg.params, false, &fresh_cpu, err);
                if (r < 0)
                        return r;
                PredictorParams mp = mem_params(&s->cfg);
                r = predictor_new(s->spec, &mp, false, &fresh_mem, err);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ const ProfileSample **sorted = calloc(MAX(n, (size_t) 1), sizeof(*sorted));
        if (!sorted)
                return colo_error_set(err, ENOMEM, "observe workloads");
        for (size_t i = 0; i < n; i++)
                sorted[i] = &samples[i];
        qsort(sorted, n, sizeof(*sorted), compare_sample_ptr);
        for (size_t i = 1; i < n; i++)
                if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
                        return colo_error_setf_plain(err, EINVAL, "workload '%s' sampled twice", sorted[i]->name);

        uint64_t t = restart || !s->started ? realtime_usec : MAX(realtime_usec, s->last_usec);
        ObserveMerge m = {};
        int r = merge_workloads(s, t, sorted, n, &m);
        if (r < 0) {
                if (m.failed_name)
                        r = colo_error_set(err, -r, "profile of workload '%s'", m.failed_name);
                else
                        r = colo_error_set(err, -r, "observe workloads");
                observe_merge_done(&m, true);
                return r;
        }

        /* commit: forget the workloads gone for longer than forget_after */
        for (size_t k = 0; k < m.n_dropped; k++)
                workload_free(m.dropped[k]);
        free(s->workloads);
        s->workloads = TAKE_PTR(m.next);
        s->n_workloads = m.n;

        if (restart) {
                predictor_free(s->cpu_pred);
                predictor_free(s->mem_pred);
                s->cpu_pred = TAKE_PTR(fresh_cpu);
                s->mem_pred = TAKE_PTR(fresh_mem);
        }
        s->started = true;
        s->last_usec = t;
        for (size_t i = 0; i < s->n_workloads; i++) {
                if (m.sample_of[i])
                        workload_observe(s->workloads[i], t, m.sample_of[i]);
                else
                        s->workloads[i]->absent = true;
        }
        observe_merge_done(&m, false);
        s->node_cpu = node_online_cpu;
        s->node_mem = (double) node_online_mem;
        predictor_observe(s->cpu_pred, t, s->node_cpu, node_limit(s, true));
        predictor_observe(s->mem_pred, t, s->node_mem, node_limit(s, false));
        return 0;
}

static bool workload_young(const ProfileSet *s, const Workload *w, uint64_t t) {
        return w->samples == 0 || t < w->first_usec || t - w->first_usec < s->cfg.min_history_usec;
}

static uint64_t to_bytes(double v) {
        if (!(v > 0))
                return 0;
        if (v >= 18446744073709549568.0) /* the largest double below 2^64 */
                return UINT64_MAX;
        return (uint64_t) v;
}

void profile_set_estimate(ProfileSet *s, uint64_t realtime_usec, double cpu_capacity, uint64_t mem_capacity,
                          ProfileEstimate *ret) {
        uint64_t t = s->started ? MAX(realtime_usec, s->last_usec) : realtime_usec;
        s->cpu_capacity = isfinite(cpu_capacity) && cpu_capacity > 0 ? cpu_capacity : 0;
        s->mem_capacity = (double) mem_capacity;
        double cpu_limit = node_limit(s, true), mem_limit = node_limit(s, false);

        double cpu = s->started ? predictor_predict(s->cpu_pred, t, cpu_limit, NAN) : cpu_limit;
        double mem = s->started ? predictor_predict(s->mem_pred, t, mem_limit, NAN) : mem_limit;
        cpu = isnan(cpu) ? cpu_limit : MAX(cpu, s->node_cpu); /* never below what runs now */
        mem = isnan(mem) ? mem_limit : MAX(mem, s->node_mem);

        double cpu_young = 0, mem_young = 0;
        size_t n_young = 0, n_present = 0;
        for (size_t i = 0; i < s->n_workloads; i++) {
                const Workload *w = s->workloads[i];
                n_present += !w->absent;
                if (w->absent || !workload_young(s, w, t))
                        continue;
                n_young++;
                double c = w->cpu_limit > 0 ? w->cpu_limit : w->cpu_max;
                double m = w->mem_limit > 0 ? w->mem_limit : w->mem_max;
                cpu_young += MAX(c - w->cpu, 0.0);
                mem_young += MAX(m - w->mem, 0.0);
        }

        double cpu_peak = cpu + cpu_young, mem_peak = mem + mem_young;
        if (s->cpu_capacity > 0)
                cpu_peak = MIN(cpu_peak, s->cpu_capacity);
        if (s->mem_capacity > 0)
                mem_peak = MIN(mem_peak, s->mem_capacity);
        *ret = (ProfileEstimate) {
                .cpu_peak = cpu_peak,
                .mem_peak = to_bytes(mem_peak),
                .cpu_predicted = cpu,
                .mem_predicted = to_bytes(mem),
                .cpu_young = cpu_young,
                .mem_young = to_bytes(mem_young),
                .cpu_limit = cpu_limit,
                .mem_limit = to_bytes(mem_limit),
                .n_workloads = n_present,
                .n_young = n_young,
        };
}

size_t profile_set_workload_count(const ProfileSet *s) {
        return s->n_workloads;
}

static double day_peak(const DayProfile *p, uint64_t t) {
        return day_profile_peak_between(p, t, t + day_profile_config(p)->period_usec);
}

int profile_set_workload_info(const ProfileSet *s, size_t i, uint64_t realtime_usec, ProfileWorkloadInfo *ret) {
        if (i >= s->n_workloads)
                return -ERANGE;
        const Workload *w = s->workloads[i];
        uint64_t t = MAX(realtime_usec, s->last_usec);
        *ret = (ProfileWorkloadInfo) {
                .name = w->name,
                .history_usec = w->samples > 0 && t >= w->first_usec ? t - w->first_usec : 0,
                .samples = w->samples,
                .young = workload_young(s, w, t),
                .cpu = w->cpu,
                .cpu_limit = w->cpu_limit,
                .mem = to_bytes(w->mem),
                .mem_limit = to_bytes(w->mem_limit),
                .cpu_p50 = histogram_quantile(w->cpu_hist, 0.5),
                .cpu_p95 = histogram_quantile(w->cpu_hist, 0.95),
                .cpu_peak = day_peak(w->cpu_day, t),
                .mem_p50 = histogram_quantile(w->mem_hist, 0.5),
                .mem_p95 = histogram_quantile(w->mem_hist, 0.95),
                .mem_peak = day_peak(w->mem_day, t),
        };
        return 0;
}
