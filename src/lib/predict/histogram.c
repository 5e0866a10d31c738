/* Decaying exponential-bucket histogram (see histogram.h). Weights are stored relative to a
 * reference time: a sample at t adds 2^((t - ref) / half_life), and when that factor would exceed
 * 2^RENORM_EXPONENT every bucket is scaled down once and the reference moved to t. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/histogram.h"

#define RENORM_EXPONENT 64.0

struct Histogram {
        HistogramConfig cfg;
        uint64_t ref_usec;
        double total;
        double *weights;
};

static bool config_valid(const HistogramConfig *c) {
        return isfinite(c->first) && c->first > 0 && (c->linear || (isfinite(c->growth) && c->growth > 1)) &&
               c->n_buckets >= 2 &&
               c->n_buckets <= HISTOGRAM_MAX_BUCKETS;
}

int histogram_new(const HistogramConfig *cfg, Histogram **ret) {
        if (!config_valid(cfg))
                return -EINVAL;
        Histogram *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->cfg = *cfg;
        h->weights = calloc(cfg->n_buckets, sizeof(double));
        if (!h->weights) {
                free(h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

Histogram *histogram_free(Histogram *h) {
        if (h) {
                free(h->weights);
                free(h);
        }
        return NULL;
}

uint32_t histogram_bucket_of(const HistogramConfig *cfg, double value) {
        if (!(value >= cfg->first)) /* also NaN */
                return 0;
        double i = cfg->linear ? floor(value / cfg->first) : 1 + floor(log(value / cfg->first) / log(cfg->growth));
        if (!(i < cfg->n_buckets - 1))
                return cfg->n_buckets - 1;
        return (uint32_t) i;
}

double histogram_bucket_upper(const HistogramConfig *cfg, uint32_t i) {
        if (cfg->linear)
                return cfg->first * ((double) i + 1);
        return cfg->first * pow(cfg->growth, (double) i);
}

/* 2^((t - ref) / half_life), the weight of a sample at t relative to one at ref. */
static double decay_exponent(const Histogram *h, uint64_t t) {
        if (h->cfg.half_life_usec == 0)
                return 0;
        double dt = t >= h->ref_usec ? (double) (t - h->ref_usec) : -(double) (h->ref_usec - t);
        return dt / (double) h->cfg.half_life_usec;
}

void histogram_add(Histogram *h, uint64_t t_usec, double value, double weight) {
        if (!isfinite(value) || !isfinite(weight) || weight <= 0)
                return;
        if (h->total == 0)
                h->ref_usec = t_usec;
        double e = decay_exponent(h, t_usec);
        if (e > RENORM_EXPONENT) {
                double f = exp2(-e);
                h->total = 0;
                for (uint32_t i = 0; i < h->cfg.n_buckets; i++) {
                        h->weights[i] *= f;
                        if (h->weights[i] < 1e-300)
                                h->weights[i] = 0;
                        h->total += h->weights[i];
                }
                h->ref_usec = t_usec;
                e = 0;
        }
        double w = weight * exp2(MAX(e, -RENORM_EXPONENT));
        h->weights[histogram_bucket_of(&h->cfg, value)] += w;
        h->total += w;
}

double histogram_quantile(const Histogram *h, double q) {
        if (!(h->total > 0))
                return NAN;
        double target = CLAMP(q, 0.0, 1.0) * h->total;
        double acc = 0;
        uint32_t last = 0;
        for (uint32_t i = 0; i < h->cfg.n_buckets; i++) {
                if (h->weights[i] <= 0)
                        continue;
                acc += h->weights[i];
                last = i;
                if (acc >= target)
                        return histogram_bucket_upper(&h->cfg, i);
        }
        return histogram_bucket_upper(&h->cfg, last); /* rounding left acc a hair below target */
}

double histogram_weight(const Histogram *h, uint64_t t_usec) {
        return h->total * exp2(-decay_exponent(h, t_usec));
}

void histogram_save(const Histogram *h, CkWriter *w) {
        ck_put_double(w, h->cfg.first);
        ck_put_double(w, h->cfg.growth);
        ck_put_u8(w, h->cfg.linear);
        ck_put_u32(w, h->cfg.n_buckets);
        ck_put_u64(w, h->cfg.half_life_usec);
        ck_put_u64(w, h->ref_usec);
        /* sparse: most buckets of a usage histogram are empty */
        uint32_t used = 0;
        for (uint32_t i = 0; i < h->cfg.n_buckets; i++)
                used += h->weights[i] > 0;
        ck_put_u32(w, used);
        for (uint32_t i = 0; i < h->cfg.n_buckets; i++)
                if (h->weights[i] > 0) {
                        ck_put_u32(w, i);
                        ck_put_double(w, h->weights[i]);
                }
}

int histogram_load(Histogram *h, CkReader *r) {
        HistogramConfig c;
        uint64_t ref;
        uint32_t used;
        int k;
        if ((k = ck_get_double(r, "histogram first bucket", 0, 1e300, &c.first)) < 0 ||
            (k = ck_get_double(r, "histogram growth", 0, 1e300, &c.growth)) < 0 ||
            (k = ck_get_bool(r, "histogram linear flag", &c.linear)) < 0 ||
            (k = ck_get_u32(r, "histogram buckets", &c.n_buckets)) < 0 ||
            (k = ck_get_u64(r, "histogram half-life", &c.half_life_usec)) < 0 ||
            (k = ck_get_u64(r, "histogram reference time", &ref)) < 0)
                return k;
        if (c.first != h->cfg.first || c.growth != h->cfg.growth || c.linear != h->cfg.linear ||
            c.n_buckets != h->cfg.n_buckets ||
            c.half_life_usec != h->cfg.half_life_usec)
                return colo_error_setf_plain(r->err, EBADMSG, "histogram configuration differs (offset %zu)", r->pos);
        if ((k = ck_get_count(r, "histogram used buckets", h->cfg.n_buckets, &used)) < 0)
                return k;
        _cleanup_free_ double *weights = calloc(h->cfg.n_buckets, sizeof(double));
        if (!weights)
                return colo_error_set(r->err, ENOMEM, "load histogram");
        double total = 0;
        for (uint32_t j = 0; j < used; j++) {
                uint32_t i;
                double w;
                if ((k = ck_get_count(r, "histogram bucket index", h->cfg.n_buckets - 1, &i)) < 0 ||
                    (k = ck_get_double(r, "histogram bucket weight", 0, 1e300, &w)) < 0)
                        return k;
                weights[i] += w;
                total += w;
        }
        if (!isfinite(total))
                return colo_error_setf_plain(r->err, EBADMSG, "histogram weights overflow (offset %zu)", r->pos);
        memcpy(h->weights, weights, h->cfg.n_buckets * sizeof(double));
        h->total = total;
        h->ref_usec = ref;
        return 0;
}
