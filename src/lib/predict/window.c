/* Sliding maximum and sliding mean/variance with bounded memory (see window.h). The maximum keeps
 * a deque whose values decrease from oldest to newest, so each sample is pushed and popped once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/window.h"

static void ring_init(WindowRing *r, uint64_t window_usec) {
        *r = (WindowRing) { .window_usec = MAX(window_usec, (uint64_t) 1) };
        r->resolution_usec = MAX(r->window_usec / WINDOW_MAX_SLOTS, (uint64_t) 1);
}

static void ring_done(WindowRing *r) {
        free(r->slots);
        r->slots = NULL;
        r->allocated = r->head = r->n = 0;
}

static WindowSlot *ring_at(const WindowRing *r, size_t i) {
        return &r->slots[(r->head + i) % r->allocated];
}

static WindowSlot *ring_front(const WindowRing *r) {
        return r->n ? ring_at(r, 0) : NULL;
}

static WindowSlot *ring_back(const WindowRing *r) {
        return r->n ? ring_at(r, r->n - 1) : NULL;
}

static void ring_pop_front(WindowRing *r) {
        r->head = (r->head + 1) % r->allocated;
        r->n--;
}

static int ring_push_back(WindowRing *r, WindowSlot s) {
        if (r->n == r->allocated) {
                size_t a = MAX(r->allocated * 2, (size_t) 16);
                a = MIN(a, (size_t) WINDOW_MAX_SLOTS + 2);
                if (a <= r->n)
                        return -ENOBUFS; /* cannot happen: slots are one resolution apart */
                WindowSlot *d = malloc(a * sizeof(*d));
                if (!d)
                        return -ENOMEM;
                for (size_t i = 0; i < r->n; i++)
                        d[i] = *ring_at(r, i);
                free(r->slots);
                r->slots = d;
                r->allocated = a;
                r->head = 0;
        }
        r->slots[(r->head + r->n) % r->allocated] = s;
        r->n++;
        return 0;
}

static bool ring_same_slot(const WindowRing *r, uint64_t a, uint64_t b) {
        return a / r->resolution_usec == b / r->resolution_usec;
}

/* A slot is in the window at t while its newest sample is newer than t - window. */
static bool ring_expired(const WindowRing *r, const WindowSlot *s, uint64_t t) {
        return s->t + r->window_usec <= t;
}

void sliding_max_init(SlidingMax *m, uint64_t window_usec) {
        ring_init(&m->ring, window_usec);
}

void sliding_max_done(SlidingMax *m) {
        ring_done(&m->ring);
}

static void sliding_max_expire(SlidingMax *m, uint64_t t) {
        WindowSlot *f;
        while ((f = ring_front(&m->ring)) && ring_expired(&m->ring, f, t))
                ring_pop_front(&m->ring);
}

int sliding_max_push(SlidingMax *m, uint64_t t, double v) {
        WindowRing *r = &m->ring;
        sliding_max_expire(m, t);
        WindowSlot *b;
        while ((b = ring_back(r)) && b->value <= v)
                r->n--;
        b = ring_back(r);
        if (b && ring_same_slot(r, b->t, t)) {
                /* b dominates v and is as recent, up to the resolution: let it stand for v */
                b->t = MAX(b->t, t);
                return 0;
        }
        return ring_push_back(r, (WindowSlot) { .t = t, .value = v, .count = 1 });
}

double sliding_max_get(SlidingMax *m, uint64_t t) {
        sliding_max_expire(m, t);
        WindowSlot *f = ring_front(&m->ring);
        return f ? f->value : NAN;
}

void sliding_stats_init(SlidingStats *s, uint64_t window_usec) {
        *s = (SlidingStats) {};
        ring_init(&s->ring, window_usec);
}

void sliding_stats_done(SlidingStats *s) {
        ring_done(&s->ring);
}

static void sliding_stats_resum(SlidingStats *s) {
        s->sum = s->sum_sq = 0;
        s->count = 0;
        for (size_t i = 0; i < s->ring.n; i++) {
                const WindowSlot *x = ring_at(&s->ring, i);
                s->sum += x->value;
                s->sum_sq += x->sum_sq;
                s->count += x->count;
        }
        s->pops_since_resum = 0;
}

static void sliding_stats_expire(SlidingStats *s, uint64_t t) {
        WindowSlot *f;
        bool popped = false;
        while ((f = ring_front(&s->ring)) && ring_expired(&s->ring, f, t)) {
                s->sum -= f->value;
                s->sum_sq -= f->sum_sq;
                s->count -= f->count;
                ring_pop_front(&s->ring);
                s->pops_since_resum++;
                popped = true;
        }
        /* Subtracting leaves rounding residue; a fresh sum once per ring's worth of pops keeps it
         * negligible at amortised O(1). */
        if (popped && (s->ring.n == 0 || s->pops_since_resum >= MAX(s->ring.n, (size_t) 64)))
                sliding_stats_resum(s);
}

int sliding_stats_push(SlidingStats *s, uint64_t t, double v) {
        sliding_stats_expire(s, t);
        WindowSlot *b = ring_back(&s->ring);
        if (b && ring_same_slot(&s->ring, b->t, t)) {
                b->t = MAX(b->t, t);
                b->value += v;
                b->sum_sq += v * v;
                b->count++;
        } else {
                int r = ring_push_back(&s->ring, (WindowSlot) { .t = t, .value = v, .sum_sq = v * v, .count = 1 });
                if (r < 0)
                        return r;
        }
        s->sum += v;
        s->sum_sq += v * v;
        s->count++;
        return 0;
}

uint64_t sliding_stats_get(SlidingStats *s, uint64_t t, double *ret_mean, double *ret_sigma) {
        sliding_stats_expire(s, t);
        if (s->count == 0) {
                *ret_mean = *ret_sigma = NAN;
                return 0;
        }
        double n = (double) s->count;
        double mean = s->sum / n;
        double var = s->sum_sq / n - mean * mean;
        *ret_mean = mean;
        *ret_sigma = var > 0 ? sqrt(var) : 0;
        return s->count;
}

static void ring_save(const WindowRing *r, CkWriter *w) {
        ck_put_u32(w, (uint32_t) r->n);
        for (size_t i = 0; i < r->n; i++) {
                const WindowSlot *s = ring_at(r, i);
                ck_put_u64(w, s->t);
                ck_put_double(w, s->value);
                ck_put_double(w, s->sum_sq);
                ck_put_u32(w, s->count);
        }
}

/* Reads slots into an empty ring; times must not decrease (the deques rely on it). */
static int ring_load(WindowRing *r, CkReader *rd) {
        uint32_t n;
        int k = ck_get_count(rd, "window slots", WINDOW_MAX_SLOTS + 2, &n);
        if (k < 0)
                return k;
        uint64_t last = 0;
        for (uint32_t i = 0; i < n; i++) {
                WindowSlot s;
                if ((k = ck_get_u64(rd, "slot time", &s.t)) < 0 ||
                    (k = ck_get_double(rd, "slot value", -1e300, 1e300, &s.value)) < 0 ||
                    (k = ck_get_double(rd, "slot square sum", 0, 1e300, &s.sum_sq)) < 0 ||
                    (k = ck_get_u32(rd, "slot count", &s.count)) < 0)
                        return k;
                if (s.t < last)
                        return colo_error_setf_plain(rd->err, EBADMSG, "window slot times go backwards (offset %zu)",
                                                     rd->pos);
                last = s.t;
                if ((k = ring_push_back(r, s)) < 0)
                        return colo_error_set(rd->err, -k, "load window");
        }
        return 0;
}

void sliding_max_save(const SlidingMax *m, CkWriter *w) {
        ring_save(&m->ring, w);
}

int sliding_max_load(SlidingMax *m, CkReader *r) {
        m->ring.n = m->ring.head = 0;
        int k = ring_load(&m->ring, r);
        if (k < 0)
                m->ring.n = m->ring.head = 0;
        return k;
}

void sliding_stats_save(const SlidingStats *s, CkWriter *w) {
        ring_save(&s->ring, w);
}

int sliding_stats_load(SlidingStats *s, CkReader *r) {
        s->ring.n = s->ring.head = 0;
        int k = ring_load(&s->ring, r);
        if (k < 0)
                s->ring.n = s->ring.head = 0;
        sliding_stats_resum(s);
        return k;
}
