/* Per-workload usage profiles and the node's online peak prediction (see profile-set.h).
 * Workloads live in an array sorted by name; an observe() merges the sorted samples into it,
 * building the new array aside so that a failure leaves the old one untouched. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/checkpoint.h"
#include "predict/histogram.h"
#include "predict/profile-set.h"
#include "predict/profile.h"
#include "util/fileio.h"

typedef struct Workload {
        char *name;
        uint64_t first_usec, last_usec;
        uint64_t samples;
        double cpu, cpu_limit, cpu_max;
        double mem, mem_limit, mem_max; /* bytes, as doubles: the predictors work in doubles */
        Histogram *cpu_hist, *mem_hist;
        DayProfile *cpu_day, *mem_day;
} Workload;

struct ProfileSet {
        ProfileSetConfig cfg;
        char *spec;
        Predictor *cpu_pred, *mem_pred;
        Workload **workloads;
        size_t n_workloads;
        bool started;
        uint64_t last_usec;
        double cpu_capacity, mem_capacity; /* from the latest estimate, 0 before */
        double node_cpu, node_mem;         /* latest totals */
};

void profile_set_config_init_defaults(ProfileSetConfig *c) {
        *c = (ProfileSetConfig) {
                .predictor_spec = "colo",
                .min_history_usec = 3600 * USEC_PER_SEC,
                .half_life_usec = 12 * 3600 * USEC_PER_SEC,
                .day_buckets = 48,
                .day_half_life_usec = 3 * 24 * 3600 * USEC_PER_SEC,
                .max_workloads = 4096,
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

static Workload *workload_free(Workload *w) {
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

DEFINE_TRIVIAL_CLEANUP_FUNC(Workload *, workload_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Predictor *, predictor_free);

static int workload_new(const ProfileSetConfig *cfg, const char *name, Workload **ret) {
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

DEFINE_TRIVIAL_CLEANUP_FUNC(ProfileSet *, profile_set_free);

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
        bool all = s->n_workloads > 0;
        for (size_t i = 0; i < s->n_workloads; i++) {
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
        _cleanup_free_ Workload **next = calloc(MAX(n, (size_t) 1), sizeof(*next));
        _cleanup_free_ bool *created = calloc(MAX(n, (size_t) 1), sizeof(*created));
        if (!sorted || !next || !created)
                return colo_error_set(err, ENOMEM, "observe workloads");
        for (size_t i = 0; i < n; i++)
                sorted[i] = &samples[i];
        qsort(sorted, n, sizeof(*sorted), compare_sample_ptr);
        for (size_t i = 1; i < n; i++)
                if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
                        return colo_error_setf_plain(err, EINVAL, "workload '%s' sampled twice", sorted[i]->name);

        /* merge: keep the workloads still sampled, create the new ones; nothing is freed yet */
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
                while (j < s->n_workloads && strcmp(s->workloads[j]->name, sorted[i]->name) < 0)
                        j++;
                if (j < s->n_workloads && strcmp(s->workloads[j]->name, sorted[i]->name) == 0) {
                        next[i] = s->workloads[j++];
                        continue;
                }
                int r = workload_new(&s->cfg, sorted[i]->name, &next[i]);
                if (r < 0) {
                        for (size_t k = 0; k < i; k++)
                                if (created[k])
                                        workload_free(next[k]);
                        return colo_error_set(err, -r, "profile of workload '%s'", sorted[i]->name);
                }
                created[i] = true;
        }

        /* commit: forget the workloads that disappeared */
        for (size_t k = 0, m = 0; k < s->n_workloads; k++) {
                while (m < n && next[m] != s->workloads[k] && strcmp(sorted[m]->name, s->workloads[k]->name) < 0)
                        m++;
                if (m < n && next[m] == s->workloads[k])
                        continue;
                workload_free(s->workloads[k]);
        }
        free(s->workloads);
        s->workloads = TAKE_PTR(next);
        s->n_workloads = n;

        if (restart) {
                predictor_free(s->cpu_pred);
                predictor_free(s->mem_pred);
                s->cpu_pred = TAKE_PTR(fresh_cpu);
                s->mem_pred = TAKE_PTR(fresh_mem);
                s->last_usec = realtime_usec;
        }
        uint64_t t = s->started ? MAX(realtime_usec, s->last_usec) : realtime_usec;
        s->started = true;
        s->last_usec = t;
        for (size_t i = 0; i < n; i++)
                workload_observe(s->workloads[i], t, sorted[i]);
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
        size_t n_young = 0;
        for (size_t i = 0; i < s->n_workloads; i++) {
                const Workload *w = s->workloads[i];
                if (!workload_young(s, w, t))
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
                .n_workloads = s->n_workloads,
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

/* ---- checkpoints ---- */

static void params_save(const ProfileSetConfig *c, CkWriter *w) {
        const PredictorParams *p = &c->params;
        ck_put_string(w, c->predictor_spec);
        ck_put_u64(w, p->horizon_usec);
        ck_put_double(w, p->borg_fraction);
        ck_put_double(w, p->nsigma_n);
        ck_put_u64(w, p->nsigma_window_usec);
        ck_put_u64(w, p->koord_half_life_usec);
        ck_put_double(w, p->koord_quantile);
        ck_put_double(w, p->koord_margin);
        ck_put_u64(w, p->peak_window_usec);
        ck_put_u64(w, p->half_life_usec);
        ck_put_double(w, p->colo_quantile);
        ck_put_double(w, c->mem_colo_quantile);
        ck_put_u64(w, c->min_history_usec);
        ck_put_u64(w, c->half_life_usec);
        ck_put_u32(w, c->day_buckets);
        ck_put_u64(w, c->day_half_life_usec);
}

static void workload_save(const Workload *x, CkWriter *w) {
        ck_put_string(w, x->name);
        ck_put_u64(w, x->first_usec);
        ck_put_u64(w, x->last_usec);
        ck_put_u64(w, x->samples);
        ck_put_double(w, x->cpu);
        ck_put_double(w, x->cpu_limit);
        ck_put_double(w, x->cpu_max);
        ck_put_double(w, x->mem);
        ck_put_double(w, x->mem_limit);
        ck_put_double(w, x->mem_max);
        histogram_save(x->cpu_hist, w);
        histogram_save(x->mem_hist, w);
        day_profile_save(x->cpu_day, w);
        day_profile_save(x->mem_day, w);
}

int profile_set_save_buffer(const ProfileSet *s, uint8_t **ret, size_t *ret_size, ColoError *err) {
        CkWriter w;
        ck_writer_init(&w);
        params_save(&s->cfg, &w);
        ck_put_u8(&w, s->started);
        ck_put_u64(&w, s->last_usec);
        ck_put_double(&w, s->cpu_capacity);
        ck_put_double(&w, s->mem_capacity);
        ck_put_double(&w, s->node_cpu);
        ck_put_double(&w, s->node_mem);
        predictor_save_state(s->cpu_pred, &w);
        predictor_save_state(s->mem_pred, &w);
        ck_put_u32(&w, (uint32_t) s->n_workloads);
        for (size_t i = 0; i < s->n_workloads; i++)
                workload_save(s->workloads[i], &w);
        int r = w.failed ? -ENOMEM : checkpoint_wrap(PROFILE_SET_CHECKPOINT_VERSION, w.data, w.size, ret, ret_size);
        ck_writer_done(&w);
        if (r < 0)
                return colo_error_set(err, -r, "serialise profiles");
        return 0;
}

int profile_set_save(const ProfileSet *s, const char *path, ColoError *err) {
        _cleanup_free_ uint8_t *image = NULL;
        size_t size = 0;
        int r = profile_set_save_buffer(s, &image, &size, err);
        if (r < 0)
                return r;
        r = write_file_atomic(path, image, size, 0600, err);
        if (r < 0)
                return colo_error_wrap(err, "save profiles");
        return 0;
}

#define BAD_CONFIG(what) colo_error_setf_plain(r->err, EBADMSG, "checkpoint written with another %s", what)

static int params_check(const ProfileSetConfig *c, CkReader *r) {
        const PredictorParams *p = &c->params;
        _cleanup_free_ char *spec = NULL;
        PredictorParams q;
        ProfileSetConfig d;
        int k;
        if ((k = ck_get_string(r, "predictor spec", 256, &spec)) < 0)
                return k;
        if (strcmp(spec, c->predictor_spec) != 0)
                return colo_error_setf_plain(r->err, EBADMSG, "checkpoint written for predictor '%s', not '%s'", spec,
                                             c->predictor_spec);
        if ((k = ck_get_u64(r, "horizon", &q.horizon_usec)) < 0 ||
            (k = ck_get_double(r, "borg fraction", 0, 1e300, &q.borg_fraction)) < 0 ||
            (k = ck_get_double(r, "nsigma n", 0, 1e300, &q.nsigma_n)) < 0 ||
            (k = ck_get_u64(r, "nsigma window", &q.nsigma_window_usec)) < 0 ||
            (k = ck_get_u64(r, "koord half-life", &q.koord_half_life_usec)) < 0 ||
            (k = ck_get_double(r, "koord quantile", 0, 1e300, &q.koord_quantile)) < 0 ||
            (k = ck_get_double(r, "koord margin", 0, 1e300, &q.koord_margin)) < 0 ||
            (k = ck_get_u64(r, "peak window", &q.peak_window_usec)) < 0 ||
            (k = ck_get_u64(r, "colo half-life", &q.half_life_usec)) < 0 ||
            (k = ck_get_double(r, "colo quantile", 0, 1e300, &q.colo_quantile)) < 0 ||
            (k = ck_get_double(r, "memory colo quantile", 0, 1e300, &d.mem_colo_quantile)) < 0 ||
            (k = ck_get_u64(r, "minimum history", &d.min_history_usec)) < 0 ||
            (k = ck_get_u64(r, "profile half-life", &d.half_life_usec)) < 0 ||
            (k = ck_get_u32(r, "time-of-day buckets", &d.day_buckets)) < 0 ||
            (k = ck_get_u64(r, "time-of-day half-life", &d.day_half_life_usec)) < 0)
                return k;
        if (q.horizon_usec != p->horizon_usec || q.borg_fraction != p->borg_fraction || q.nsigma_n != p->nsigma_n ||
            q.nsigma_window_usec != p->nsigma_window_usec || q.koord_half_life_usec != p->koord_half_life_usec ||
            q.koord_quantile != p->koord_quantile || q.koord_margin != p->koord_margin ||
            q.peak_window_usec != p->peak_window_usec || q.half_life_usec != p->half_life_usec ||
            q.colo_quantile != p->colo_quantile)
                return BAD_CONFIG("predictor configuration");
        if (d.mem_colo_quantile != c->mem_colo_quantile)
                return BAD_CONFIG("predictor configuration");
        if (d.min_history_usec != c->min_history_usec || d.half_life_usec != c->half_life_usec ||
            d.day_buckets != c->day_buckets || d.day_half_life_usec != c->day_half_life_usec)
                return BAD_CONFIG("profile configuration");
        return 0;
}

static int workload_load(const ProfileSetConfig *cfg, CkReader *r, Workload **ret) {
        _cleanup_free_ char *name = NULL;
        int k = ck_get_string(r, "workload name", PROFILE_NAME_MAX, &name);
        if (k < 0)
                return k;
        if (!name[0])
                return colo_error_setf_plain(r->err, EBADMSG, "empty workload name (offset %zu)", r->pos);
        _cleanup_(workload_freep) Workload *w = NULL;
        if ((k = workload_new(cfg, name, &w)) < 0)
                return colo_error_set(r->err, -k, "load workload '%s'", name);
        if ((k = ck_get_u64(r, "first seen", &w->first_usec)) < 0 || (k = ck_get_u64(r, "last seen", &w->last_usec)) < 0 ||
            (k = ck_get_u64(r, "sample count", &w->samples)) < 0 ||
            (k = ck_get_double(r, "cpu", 0, 1e300, &w->cpu)) < 0 ||
            (k = ck_get_double(r, "cpu limit", 0, 1e300, &w->cpu_limit)) < 0 ||
            (k = ck_get_double(r, "cpu maximum", 0, 1e300, &w->cpu_max)) < 0 ||
            (k = ck_get_double(r, "memory", 0, 1e300, &w->mem)) < 0 ||
            (k = ck_get_double(r, "memory limit", 0, 1e300, &w->mem_limit)) < 0 ||
            (k = ck_get_double(r, "memory maximum", 0, 1e300, &w->mem_max)) < 0 ||
            (k = histogram_load(w->cpu_hist, r)) < 0 || (k = histogram_load(w->mem_hist, r)) < 0 ||
            (k = day_profile_load(w->cpu_day, r)) < 0 || (k = day_profile_load(w->mem_day, r)) < 0)
                return colo_error_wrap(r->err, "workload '%s'", name);
        *ret = TAKE_PTR(w);
        return 0;
}

static int profile_set_decode(ProfileSet *n, const uint8_t *payload, size_t size, ColoError *err) {
        CkReader r;
        ck_reader_init(&r, payload, size, err);
        int k;
        uint32_t count;
        if ((k = params_check(&n->cfg, &r)) < 0 || (k = ck_get_bool(&r, "started flag", &n->started)) < 0 ||
            (k = ck_get_u64(&r, "last time", &n->last_usec)) < 0 ||
            (k = ck_get_double(&r, "cpu capacity", 0, 1e300, &n->cpu_capacity)) < 0 ||
            (k = ck_get_double(&r, "memory capacity", 0, 1e300, &n->mem_capacity)) < 0 ||
            (k = ck_get_double(&r, "node cpu", 0, 1e300, &n->node_cpu)) < 0 ||
            (k = ck_get_double(&r, "node memory", 0, 1e300, &n->node_mem)) < 0)
                return k;
        if ((k = predictor_load_state(n->cpu_pred, &r)) < 0)
                return colo_error_wrap(err, "cpu predictor");
        if ((k = predictor_load_state(n->mem_pred, &r)) < 0)
                return colo_error_wrap(err, "memory predictor");
        if ((k = ck_get_count(&r, "workload count", n->cfg.max_workloads, &count)) < 0)
                return k;
        n->workloads = calloc(MAX(count, 1u), sizeof(Workload *));
        if (!n->workloads)
                return colo_error_set(err, ENOMEM, "load workloads");
        for (uint32_t i = 0; i < count; i++) {
                if ((k = workload_load(&n->cfg, &r, &n->workloads[i])) < 0)
                        return k;
                n->n_workloads++;
                if (i > 0 && strcmp(n->workloads[i - 1]->name, n->workloads[i]->name) >= 0)
                        return colo_error_setf_plain(err, EBADMSG, "workloads out of order at '%s'",
                                                     n->workloads[i]->name);
        }
        return ck_expect_end(&r, "the workloads");
}

int profile_set_load_buffer(ProfileSet *s, const void *buf, size_t size, ColoError *err) {
        uint32_t version;
        const uint8_t *payload;
        size_t payload_size;
        int r = checkpoint_unwrap(buf, size, PROFILE_SET_CHECKPOINT_VERSION, &version, &payload, &payload_size, err);
        if (r < 0)
                return r;
        _cleanup_(profile_set_freep) ProfileSet *n = NULL;
        r = profile_set_new(&s->cfg, &n, err);
        if (r < 0)
                return r;
        r = profile_set_decode(n, payload, payload_size, err);
        if (r < 0)
                return r;
        /* success: swap the state in, keep s's identity */
        ProfileSet tmp = *s;
        *s = *n;
        *n = tmp;
        return 0;
}

int profile_set_load(ProfileSet *s, const char *path, ColoError *err) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        int r = read_full_file(path, CHECKPOINT_PAYLOAD_MAX + CHECKPOINT_HEADER_SIZE, &buf, &size, err);
        if (r < 0)
                return r;
        r = profile_set_load_buffer(s, buf, size, err);
        if (r < 0)
                return colo_error_wrap(err, "checkpoint '%s'", path);
        return 0;
}
