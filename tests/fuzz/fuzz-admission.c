/* Fuzz target of the admission webhook. Beyond "no crash, no leak" it checks the webhook's
 * promises: an answered review echoes the request's uid and apiVersion; an allowed patch, applied
 * to the pod, gives a pod the webhook leaves alone (idempotence); strict classification agrees
 * with the run-time one whenever it succeeds. The first line is also fed to the quantity parser,
 * whose values must read back from their own formatting. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/k8s-test-helpers.h"
#include "admission/admission.h"
#include "k8s/pod-class.h"
#include "k8s/resource-quantity.h"

#define CHECK(cond)                                                                     \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "fuzz-admission: check failed: %s\n", #cond);   \
                        abort();                                                        \
                }                                                                       \
        } while (0)

static void check_quantity(const uint8_t *data, size_t size) {
        char s[80], buf[32];
        size_t n = 0;
        while (n < size && n < sizeof(s) - 1 && data[n] != '\n')
                n++;
        memcpy(s, data, n);
        s[n] = '\0';
        int64_t v, back;
        if (quantity_parse_milli(s, &v) == 0) {
                CHECK(v >= 0);
                CHECK(quantity_format_milli(v, buf, sizeof(buf)) > 0);
                CHECK(quantity_parse_milli(buf, &back) == 0 && back == v);
        }
        if (quantity_parse_units(s, &v) == 0) {
                CHECK(quantity_format_units(v, buf, sizeof(buf)) > 0);
                CHECK(quantity_parse_units(buf, &back) == 0 && back == v);
        }
}

static void check_classification(const json_t *pod) {
        PodClass strict, lenient;
        if (pod_class_from_json(pod, POD_CLASS_STRICT, &strict, NULL) == 0) {
                CHECK(pod_class_from_json(pod, POD_CLASS_PRECEDENCE, &lenient, NULL) == 0);
                CHECK(strict.workload_class == lenient.workload_class && strict.tier == lenient.tier);
                CHECK(workload_tier_class(strict.tier) == strict.workload_class);
        }
}

static void check_idempotent(const AdmissionConfig *cfg, json_t *pod, const char *patch_b64) {
        _cleanup_free_ char *text = base64_decode(patch_b64, NULL);
        CHECK(text);
        json_auto_t *patch = json_loads(text, 0, NULL);
        CHECK(json_is_array(patch) && json_array_size(patch) > 0);
        CHECK(json_patch_apply(pod, patch) == 0);
        json_auto_t *again = NULL;
        AdmissionOutcome out = {};
        CHECK(admission_mutate_pod(cfg, pod, &again, &out) == 0);
        CHECK(json_array_size(again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        check_quantity(data, size);

        _cleanup_free_ char *response = NULL;
        size_t n = 0;
        AdmissionOutcome out;
        ColoError err = {};
        int r = admission_review(&cfg, (const char *) data, size, &response, &n, &out, &err);
        if (r < 0) {
                CHECK(!response && err.msg[0]);
                return 0;
        }
        json_auto_t *request_doc = json_loadb((const char *) data, size, 0, NULL);
        json_auto_t *reply = json_loads(response, 0, NULL);
        CHECK(request_doc && reply && n == strlen(response));
        const json_t *req = json_object_get(request_doc, "request"), *resp = json_object_get(reply, "response");
        CHECK(json_equal(json_object_get(req, "uid"), json_object_get(resp, "uid")));
        CHECK(json_equal(json_object_get(request_doc, "apiVersion"), json_object_get(reply, "apiVersion")));
        CHECK(json_is_boolean(json_object_get(resp, "allowed")));
        CHECK(json_is_true(json_object_get(resp, "allowed")) == out.allowed);
        CHECK(out.allowed || (out.code == 400 || out.code == 422));

        json_t *pod = json_object_get(req, "object");
        if (json_is_object(pod))
                check_classification(pod);
        const char *patch = json_string_value(json_object_get(resp, "patch"));
        if (patch && json_is_object(pod))
                check_idempotent(&cfg, pod, patch);
        return 0;
}
