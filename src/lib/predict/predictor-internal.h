/* Shared by the predictor implementations: the operations table each predictor kind fills in,
 * and the object layout behind the opaque Predictor. */
#pragma once

#include "predict/checkpoint.h"
#include "predict/predictor.h"

typedef struct PredictorOps {
        const char *name;
        bool simulator_only;
        /* Allocates p->state; returns 0 or -errno. */
        int (*init)(Predictor *p);
        void (*done)(Predictor *p);
        void (*observe)(Predictor *p, uint64_t t_usec, double usage, double limit);
        double (*predict)(Predictor *p, uint64_t t_usec, double limit, double future_peak);
        /* Learned state only (the spec and parameters are the caller's); NULL: stateless. */
        void (*save)(const Predictor *p, CkWriter *w);
        int (*load)(Predictor *p, CkReader *r);
} PredictorOps;

struct Predictor {
        const PredictorOps *ops;
        char *spec;
        PredictorParams params;
        void *state;
        /* max(...) only: the combined predictors */
        Predictor **children;
        size_t n_children;
};

extern const PredictorOps predictor_oracle_ops;
extern const PredictorOps predictor_limit_ops;
extern const PredictorOps predictor_borg_ops;
extern const PredictorOps predictor_peak_ops;
extern const PredictorOps predictor_nsigma_ops;
extern const PredictorOps predictor_koord_ops;
extern const PredictorOps predictor_colo_ops;
