/* Fuzz target of predictor specs: prediction.predictor in the configuration and `colo sim
 * --predictor`. The configuration checks the grammar itself (config cannot link predict), so the
 * two must agree: a spec the configuration accepts must build a predictor, else the agent starts
 * without usage profiles and only says so in a warning. A built predictor carries its spec,
 * predicts a finite, non-negative value from a few samples, and its saved state loads into a
 * predictor built from the same spec and predicts the same. The input's first line is the spec. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "predict/checkpoint.h"
#include "predict/predictor.h"

#define CHECK(cond)                                                                           \
        do {                                                                                  \
                if (!(cond)) {                                                                \
                        fprintf(stderr, "fuzz-predictor-spec: check failed: %s\n", #cond);    \
                        abort();                                                              \
                }                                                                             \
        } while (0)

#define STEP_USEC (UINT64_C(60) * 1000000)

/* Whether the configuration accepts spec as prediction.predictor (as a single-quoted scalar). */
static bool config_accepts(const char *spec) {
        char yaml[1024];
        size_t n = (size_t) snprintf(yaml, sizeof(yaml), "prediction:\n  predictor: '");
        for (const char *p = spec; *p && n < sizeof(yaml) - 8; p++) {
                if (*p == '\'')
                        yaml[n++] = '\'';
                yaml[n++] = *p;
        }
        n += (size_t) snprintf(yaml + n, sizeof(yaml) - n, "'\n");
        Config c;
        config_init_defaults(&c);
        return config_parse_yaml(yaml, n, "fuzz.yaml", &c, NULL) == 0 && strcmp(c.prediction.predictor, spec) == 0;
}

static void check_state_round_trip(const Predictor *p, const char *spec, const PredictorParams *params,
                                   uint64_t t, double predicted) {
        CkWriter w;
        ck_writer_init(&w);
        predictor_save_state(p, &w);
        CHECK(!w.failed);
        Predictor *q = NULL;
        CHECK(predictor_new(spec, params, true, &q, NULL) == 0);
        ColoError err = {};
        CkReader r;
        ck_reader_init(&r, w.data, w.size, &err);
        CHECK(predictor_load_state(q, &r) == 0);
        CHECK(ck_expect_end(&r, "predictor") == 0);
        double again = predictor_predict(q, t, 100.0, NAN);
        CHECK(again == predicted);
        predictor_free(q);
        ck_writer_done(&w);
}

static void check_spec(const char *spec, const uint8_t *samples, size_t n_samples) {
        PredictorParams params;
        predictor_params_init_defaults(&params);
        ColoError err = {};
        Predictor *p = NULL;
        int r = predictor_new(spec, &params, false, &p, &err);
        if (config_accepts(spec)) {
                if (r < 0)
                        fprintf(stderr, "fuzz-predictor-spec: the configuration accepts '%s', predictor_new() "
                                        "refuses it: %s\n", spec, err.msg);
                CHECK(r == 0);
        }
        if (r < 0) {
                CHECK(!p && err.code > 0 && err.msg[0]);
                return;
        }
        CHECK(strlen(predictor_name(p)) <= strlen(spec));
        uint64_t t = 0;
        for (size_t i = 0; i < n_samples; i++, t += STEP_USEC)
                predictor_observe(p, t, samples[i], 100.0);
        double predicted = predictor_predict(p, t, 100.0, NAN);
        CHECK(isfinite(predicted) && predicted >= 0);
        check_state_round_trip(p, spec, &params, t, predicted);
        predictor_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char spec[512];
        size_t n = 0;
        while (n < size && n < sizeof(spec) - 1 && data[n] != '\n' && data[n] != '\0')
                n++;
        memcpy(spec, data, n);
        spec[n] = '\0';
        size_t rest = n < size ? size - n - 1 : 0;
        check_spec(spec, data + size - rest, rest < 64 ? rest : 64);
        return 0;
}
