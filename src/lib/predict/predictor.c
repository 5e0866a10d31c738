/* Predictor construction from a spec string, the max(...) combinator, and the calls every
 * predictor shares. The grammar is
 *     spec := name | "max(" spec { "," spec } ")"
 * with optional blanks around names, commas and parentheses; names are listed in predictor.h. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/predictor-internal.h"

#define SPEC_MAX 256
#define MAX_CHILDREN 16
#define MAX_DEPTH 4

void predictor_params_init_defaults(PredictorParams *p) {
        *p = (PredictorParams) {
                .horizon_usec = 3600 * USEC_PER_SEC,
                .borg_fraction = 0.9,
                .nsigma_n = 5,
                .nsigma_window_usec = 2 * 3600 * USEC_PER_SEC,
                .koord_half_life_usec = 12 * 3600 * USEC_PER_SEC,
                .koord_quantile = 0.95,
                .koord_margin = 1.1,
                .peak_window_usec = 24 * 3600 * USEC_PER_SEC,
                .half_life_usec = 7 * 24 * 3600 * USEC_PER_SEC,
                .colo_quantile = PREDICTOR_COLO_STRICT_QUANTILE,
        };
}

int predictor_params_validate(const PredictorParams *p, ColoError *err) {
        if (p->horizon_usec == 0)
                return colo_error_setf_plain(err, EINVAL, "predictor horizon must be positive");
        if (!(p->borg_fraction > 0 && p->borg_fraction <= 1))
                return colo_error_setf_plain(err, EINVAL, "borg fraction %g not in (0, 1]", p->borg_fraction);
        if (!(p->nsigma_n >= 0 && p->nsigma_n <= 100))
                return colo_error_setf_plain(err, EINVAL, "nsigma n %g not in [0, 100]", p->nsigma_n);
        if (!(p->koord_quantile > 0 && p->koord_quantile <= 1))
                return colo_error_setf_plain(err, EINVAL, "koord quantile %g not in (0, 1]", p->koord_quantile);
        if (!(p->koord_margin >= 1 && p->koord_margin <= 10))
                return colo_error_setf_plain(err, EINVAL, "koord margin %g not in [1, 10]", p->koord_margin);
        if (!(p->colo_quantile >= 0.5 && p->colo_quantile < 1))
                return colo_error_setf_plain(err, EINVAL, "colo quantile %g not in [0.5, 1)", p->colo_quantile);
        if (p->nsigma_window_usec == 0 || p->koord_half_life_usec == 0 || p->peak_window_usec == 0 ||
            p->half_life_usec == 0)
                return colo_error_setf_plain(err, EINVAL, "predictor windows and half-lives must be positive");
        return 0;
}

static const PredictorOps *const predictor_kinds[] = {
        &predictor_oracle_ops, &predictor_limit_ops, &predictor_borg_ops,  &predictor_nsigma_ops,
        &predictor_koord_ops,  &predictor_peak_ops,  &predictor_colo_ops,
};

static void max_observe(Predictor *p, uint64_t t, double usage, double limit) {
        for (size_t i = 0; i < p->n_children; i++)
                predictor_observe(p->children[i], t, usage, limit);
}

static double max_predict(Predictor *p, uint64_t t, double limit, double future_peak) {
        double best = -INFINITY;
        for (size_t i = 0; i < p->n_children; i++)
                best = MAX(best, predictor_predict(p->children[i], t, limit, future_peak));
        return best;
}

static void max_save(const Predictor *p, CkWriter *w) {
        for (size_t i = 0; i < p->n_children; i++)
                predictor_save_state(p->children[i], w);
}

static int max_load(Predictor *p, CkReader *r) {
        for (size_t i = 0; i < p->n_children; i++) {
                int k = predictor_load_state(p->children[i], r);
                if (k < 0)
                        return k;
        }
        return 0;
}

static const PredictorOps predictor_max_ops = {
        .name = "max",
        .observe = max_observe,
        .predict = max_predict,
        .save = max_save,
        .load = max_load,
};

Predictor *predictor_free(Predictor *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_children; i++)
                predictor_free(p->children[i]);
        free(p->children);
        if (p->ops && p->ops->done)
                p->ops->done(p);
        free(p->spec);
        free(p);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Predictor *, predictor_free);

typedef struct SpecParser {
        const char *spec; /* the whole spec, for messages */
        const char *s;    /* the cursor */
        const PredictorParams *params;
        bool allow_oracle;
        ColoError *err;
} SpecParser;

static void skip_blanks(SpecParser *sp) {
        while (*sp->s == ' ' || *sp->s == '\t')
                sp->s++;
}

static int parse_error(SpecParser *sp, const char *what) {
        return colo_error_setf_plain(sp->err, EINVAL, "predictor spec '%s': %s at column %zu", sp->spec, what,
                                     (size_t) (sp->s - sp->spec) + 1);
}

static int predictor_alloc(const PredictorOps *ops, const char *spec, size_t len, const PredictorParams *params,
                           Predictor **ret) {
        _cleanup_(predictor_freep) Predictor *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->spec = strndup(spec, len);
        if (!p->spec)
                return -ENOMEM;
        p->params = *params;
        p->ops = ops; /* done() copes with whatever a failed init() left */
        if (ops->init) {
                int r = ops->init(p);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

static int parse_spec(SpecParser *sp, unsigned depth, Predictor **ret) {
        skip_blanks(sp);
        const char *start = sp->s;
        while (isalnum((unsigned char) *sp->s) || *sp->s == '_')
                sp->s++;
        size_t len = (size_t) (sp->s - start);
        if (len == 0)
                return parse_error(sp, "expected a predictor name");

        if (len == 3 && strncmp(start, "max", 3) == 0) {
                if (depth >= MAX_DEPTH)
                        return parse_error(sp, "max(...) nested too deeply");
                skip_blanks(sp);
                if (*sp->s != '(')
                        return parse_error(sp, "expected '(' after max");
                sp->s++;
                _cleanup_free_ Predictor **children = calloc(MAX_CHILDREN, sizeof(Predictor *));
                if (!children)
                        return colo_error_set(sp->err, ENOMEM, "predictor spec '%s'", sp->spec);
                size_t n = 0;
                int r = 0;
                for (;;) {
                        if (n == MAX_CHILDREN) {
                                r = parse_error(sp, "more than " STRINGIFY(MAX_CHILDREN) " predictors in max(...)");
                                break;
                        }
                        r = parse_spec(sp, depth + 1, &children[n]);
                        if (r < 0)
                                break;
                        n++;
                        skip_blanks(sp);
                        if (*sp->s == ',') {
                                sp->s++;
                                continue;
                        }
                        if (*sp->s == ')') {
                                sp->s++;
                                break;
                        }
                        r = parse_error(sp, *sp->s ? "expected ',' or ')'" : "missing ')'");
                        break;
                }
                Predictor *p = NULL;
                if (r >= 0) {
                        skip_blanks(sp);
                        r = predictor_alloc(&predictor_max_ops, start, (size_t) (sp->s - start), sp->params, &p);
                        if (r < 0)
                                colo_error_set(sp->err, -r, "predictor spec '%s'", sp->spec);
                }
                if (r < 0) {
                        for (size_t i = 0; i < n; i++)
                                predictor_free(children[i]);
                        return r;
                }
                p->children = TAKE_PTR(children);
                p->n_children = n;
                *ret = p;
                return 0;
        }

        const PredictorOps *ops = NULL;
        for (size_t i = 0; i < ELEMENTSOF(predictor_kinds); i++)
                if (strlen(predictor_kinds[i]->name) == len && strncmp(predictor_kinds[i]->name, start, len) == 0)
                        ops = predictor_kinds[i];
        if (!ops) {
                sp->s = start;
                return colo_error_setf_plain(sp->err, EINVAL,
                                             "predictor spec '%s': unknown predictor '%.*s' (known: oracle, limit, "
                                             "borg, nsigma, koord, peak, colo, max(...))",
                                             sp->spec, (int) len, start);
        }
        if (ops->simulator_only && !sp->allow_oracle)
                return colo_error_setf_plain(sp->err, EINVAL,
                                             "predictor spec '%s': '%s' knows the future and runs only in the simulator",
                                             sp->spec, ops->name);
        int r = predictor_alloc(ops, start, len, sp->params, ret);
        if (r < 0)
                return colo_error_set(sp->err, -r, "predictor spec '%s'", sp->spec);
        return 0;
}

int predictor_new(const char *spec, const PredictorParams *params, bool allow_oracle, Predictor **ret,
                  ColoError *err) {
        if (!spec)
                return colo_error_setf_plain(err, EINVAL, "predictor spec missing");
        if (strlen(spec) > SPEC_MAX)
                return colo_error_setf_plain(err, EINVAL, "predictor spec longer than %d characters", SPEC_MAX);
        int r = predictor_params_validate(params, err);
        if (r < 0)
                return r;
        SpecParser sp = { .spec = spec, .s = spec, .params = params, .allow_oracle = allow_oracle, .err = err };
        _cleanup_(predictor_freep) Predictor *p = NULL;
        r = parse_spec(&sp, 0, &p);
        if (r < 0)
                return r;
        skip_blanks(&sp);
        if (*sp.s != '\0')
                return parse_error(&sp, "unexpected text after the predictor");
        *ret = TAKE_PTR(p);
        return 0;
}

const char *predictor_name(const Predictor *p) {
        return p->spec;
}

void predictor_observe(Predictor *p, uint64_t t_usec, double usage, double limit) {
        if (p->ops->observe && isfinite(usage) && isfinite(limit))
                p->ops->observe(p, t_usec, MAX(usage, 0.0), MAX(limit, 0.0));
}

double predictor_predict(Predictor *p, uint64_t t_usec, double limit, double future_peak) {
        return p->ops->predict(p, t_usec, limit, future_peak);
}

void predictor_save_state(const Predictor *p, CkWriter *w) {
        ck_put_string(w, p->ops->name);
        if (p->ops->save)
                p->ops->save(p, w);
}

int predictor_load_state(Predictor *p, CkReader *r) {
        _cleanup_free_ char *name = NULL;
        int k = ck_get_string(r, "predictor kind", 64, &name);
        if (k < 0)
                return k;
        if (strcmp(name, p->ops->name) != 0)
                return colo_error_setf_plain(r->err, EBADMSG, "predictor state is for '%s', not '%s'", name,
                                             p->ops->name);
        return p->ops->load ? p->ops->load(p, r) : 0;
}
