/* Checkpoints of a profile set (see profile-set.h): everything, predictor state included, in a
 * checkpoint container (checkpoint.h); a load builds a new set aside and swaps it in only when
 * the whole image decoded, so a bad file changes nothing. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "predict/checkpoint.h"
#include "predict/profile-set-internal.h"
#include "util/fileio.h"

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
        /* O_NOFOLLOW: colo writes the checkpoint by rename(2), never as a link. */
        int r = read_full_file_flags(path, O_NOFOLLOW, CHECKPOINT_PAYLOAD_MAX + CHECKPOINT_HEADER_SIZE, &buf, &size, err);
        if (r < 0)
                return r;
        r = profile_set_load_buffer(s, buf, size, err);
        if (r < 0)
                return colo_error_wrap(err, "checkpoint '%s'", path);
        return 0;
}
