/* Time-of-day profile of decaying per-bucket peaks and means (see profile.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/profile.h"

typedef struct DayBucket {
        double peak;      /* as of peak_usec */
        uint64_t peak_usec;
        double sum;       /* decayed sum and weight of the samples, as of mean_usec */
        double weight;
        uint64_t mean_usec;
        bool seen;
} DayBucket;

struct DayProfile {
        DayProfileConfig cfg;
        DayBucket *buckets;
};

void day_profile_config_init_defaults(DayProfileConfig *c) {
        *c = (DayProfileConfig) {
                .n_buckets = 48,
                .period_usec = 24 * 3600 * USEC_PER_SEC,
                .half_life_usec = 3 * 24 * 3600 * USEC_PER_SEC,
        };
}

static bool config_valid(const DayProfileConfig *c) {
        return c->n_buckets >= 1 && c->n_buckets <= DAY_PROFILE_MAX_BUCKETS && c->period_usec >= c->n_buckets &&
               c->period_usec % c->n_buckets == 0 && c->half_life_usec > 0;
}

int day_profile_new(const DayProfileConfig *cfg, DayProfile **ret) {
        if (!config_valid(cfg))
                return -EINVAL;
        DayProfile *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->cfg = *cfg;
        p->buckets = calloc(cfg->n_buckets, sizeof(DayBucket));
        if (!p->buckets) {
                free(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

DayProfile *day_profile_free(DayProfile *p) {
        if (p) {
                free(p->buckets);
                free(p);
        }
        return NULL;
}

const DayProfileConfig *day_profile_config(const DayProfile *p) {
        return &p->cfg;
}

uint32_t day_profile_bucket_of(const DayProfile *p, uint64_t t_usec) {
        return (uint32_t) ((t_usec % p->cfg.period_usec) / (p->cfg.period_usec / p->cfg.n_buckets));
}

/* The factor a value recorded at `then` has decayed by at `now` (1 if now is not later). */
static double decay(const DayProfile *p, uint64_t then, uint64_t now) {
        if (now <= then)
                return 1;
        return exp2(-(double) (now - then) / (double) p->cfg.half_life_usec);
}

void day_profile_add(DayProfile *p, uint64_t t_usec, double value) {
        if (!isfinite(value))
                return;
        DayBucket *b = &p->buckets[day_profile_bucket_of(p, t_usec)];
        if (!b->seen) {
                *b = (DayBucket) { .peak = value, .peak_usec = t_usec, .sum = value, .weight = 1,
                                   .mean_usec = t_usec, .seen = true };
                return;
        }
        double old = b->peak * decay(p, b->peak_usec, t_usec);
        b->peak = MAX(old, value);
        b->peak_usec = MAX(b->peak_usec, t_usec);
        double f = decay(p, b->mean_usec, t_usec);
        b->sum = b->sum * f + value;
        b->weight = b->weight * f + 1;
        b->mean_usec = MAX(b->mean_usec, t_usec);
}

double day_profile_peak(const DayProfile *p, uint32_t b, uint64_t t_usec) {
        if (b >= p->cfg.n_buckets || !p->buckets[b].seen)
                return NAN;
        return p->buckets[b].peak * decay(p, p->buckets[b].peak_usec, t_usec);
}

double day_profile_mean(const DayProfile *p, uint32_t b, uint64_t t_usec) {
        (void) t_usec; /* sum and weight decay alike, so the mean does not change with time alone */
        if (b >= p->cfg.n_buckets || !p->buckets[b].seen)
                return NAN;
        return p->buckets[b].sum / p->buckets[b].weight;
}

double day_profile_peak_between(const DayProfile *p, uint64_t from_usec, uint64_t to_usec) {
        if (to_usec <= from_usec)
                return NAN;
        uint64_t width = p->cfg.period_usec / p->cfg.n_buckets;
        uint64_t first = from_usec / width, last = (to_usec - 1) / width; /* absolute bucket numbers */
        if (last - first >= p->cfg.n_buckets)
                last = first + p->cfg.n_buckets - 1;
        double best = NAN;
        for (uint64_t k = first; k <= last; k++) {
                double v = day_profile_peak(p, (uint32_t) (k % p->cfg.n_buckets), from_usec);
                if (!isnan(v) && (isnan(best) || v > best))
                        best = v;
        }
        return best;
}

uint32_t day_profile_buckets_seen(const DayProfile *p) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < p->cfg.n_buckets; i++)
                n += p->buckets[i].seen;
        return n;
}

void day_profile_save(const DayProfile *p, CkWriter *w) {
        ck_put_u32(w, p->cfg.n_buckets);
        ck_put_u64(w, p->cfg.period_usec);
        ck_put_u64(w, p->cfg.half_life_usec);
        for (uint32_t i = 0; i < p->cfg.n_buckets; i++) {
                const DayBucket *b = &p->buckets[i];
                ck_put_u8(w, b->seen);
                if (!b->seen)
                        continue;
                ck_put_double(w, b->peak);
                ck_put_u64(w, b->peak_usec);
                ck_put_double(w, b->sum);
                ck_put_double(w, b->weight);
                ck_put_u64(w, b->mean_usec);
        }
}

int day_profile_load(DayProfile *p, CkReader *r) {
        DayProfileConfig c;
        int k;
        if ((k = ck_get_u32(r, "profile buckets", &c.n_buckets)) < 0 ||
            (k = ck_get_u64(r, "profile period", &c.period_usec)) < 0 ||
            (k = ck_get_u64(r, "profile half-life", &c.half_life_usec)) < 0)
                return k;
        if (c.n_buckets != p->cfg.n_buckets || c.period_usec != p->cfg.period_usec ||
            c.half_life_usec != p->cfg.half_life_usec)
                return colo_error_setf_plain(r->err, EBADMSG, "profile configuration differs (offset %zu)", r->pos);
        _cleanup_free_ DayBucket *buckets = calloc(c.n_buckets, sizeof(DayBucket));
        if (!buckets)
                return colo_error_set(r->err, ENOMEM, "load profile");
        for (uint32_t i = 0; i < c.n_buckets; i++) {
                DayBucket *b = &buckets[i];
                if ((k = ck_get_bool(r, "profile bucket flag", &b->seen)) < 0)
                        return k;
                if (!b->seen)
                        continue;
                if ((k = ck_get_double(r, "profile peak", -1e300, 1e300, &b->peak)) < 0 ||
                    (k = ck_get_u64(r, "profile peak time", &b->peak_usec)) < 0 ||
                    (k = ck_get_double(r, "profile sum", -1e300, 1e300, &b->sum)) < 0 ||
                    (k = ck_get_double(r, "profile weight", 1e-300, 1e300, &b->weight)) < 0 ||
                    (k = ck_get_u64(r, "profile mean time", &b->mean_usec)) < 0)
                        return k;
        }
        memcpy(p->buckets, buckets, c.n_buckets * sizeof(DayBucket));
        return 0;
}
