/* The AdmissionReview envelope around the pod decision (admission.c): checks what the API server
 * sent (apiVersion, kind, a v1 Pod CREATE), and answers with the review's uid, the verdict and
 * the patch, base64-encoded as the API requires. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "admission/admission-internal.h"
#include "admission/admission.h"
#include "util/macro.h"

/* GnuTLS's encoder (already linked for TLS): one line, padded, NUL-terminated. Copied into a
 * malloc() buffer so callers free it like every other string here. */
char *admission_base64_encode(const void *data, size_t size) {
        if (size > UINT32_MAX / 2)
                return NULL;
        gnutls_datum_t in = { .data = (unsigned char *) data, .size = (unsigned) size }, out = {};
        if (gnutls_base64_encode2(&in, &out) < 0)
                return NULL;
        char *s = malloc((size_t) out.size + 1);
        if (s) {
                memcpy(s, out.data ? (const char *) out.data : "", out.size);
                s[out.size] = '\0';
        }
        gnutls_free(out.data);
        return s;
}

static const char *gvk_string(const json_t *gvk, const char *field, char *buf, size_t size) {
        const char *g = json_string_value(json_object_get(gvk, "group"));
        const char *v = json_string_value(json_object_get(gvk, "version"));
        const char *k = json_string_value(json_object_get(gvk, field));
        snprintf(buf, size, "%.60s%s%.20s %.60s", g && *g ? g : "", g && *g ? "/" : "", v ? v : "?", k ? k : "?");
        return buf;
}

static bool is_core_pod(const json_t *gvk, const char *field, const char *name) {
        const char *g = json_string_value(json_object_get(gvk, "group"));
        const char *v = json_string_value(json_object_get(gvk, "version"));
        const char *k = json_string_value(json_object_get(gvk, field));
        return g && g[0] == '\0' && v && strcmp(v, "v1") == 0 && k && strcmp(k, name) == 0;
}

/* Decides on the request part of a well-formed review; fills out and returns the patch or NULL. */
static json_t *decide(const AdmissionConfig *cfg, const json_t *request, AdmissionOutcome *out) {
        const json_t *kind = json_object_get(request, "kind");
        const json_t *resource = json_object_get(request, "resource");
        const char *op = json_string_value(json_object_get(request, "operation"));
        const char *sub = json_string_value(json_object_get(request, "subResource"));
        char gvk[200];

        if (!json_is_object(kind) || !is_core_pod(kind, "kind", "Pod")) {
                admission_reject(out, 400, "colo's webhook admits only v1 Pods, not %s; fix the rules of the "
                       "MutatingWebhookConfiguration", json_is_object(kind) ? gvk_string(kind, "kind", gvk, sizeof(gvk)) : "?");
                return NULL;
        }
        if (resource && !is_core_pod(resource, "resource", "pods")) {
                admission_reject(out, 400, "request.resource: expected pods, not %s",
                       gvk_string(resource, "resource", gvk, sizeof(gvk)));
                return NULL;
        }
        if (!op) {
                admission_reject(out, 400, "request.operation: missing");
                return NULL;
        }
        /* Resources of a pod are immutable after creation, and subresources carry no pod spec. */
        if (strcmp(op, "CREATE") != 0 || (sub && sub[0])) {
                out->allowed = true;
                out->code = 200;
                return NULL;
        }
        json_t *patch = NULL;
        (void) admission_mutate_pod(cfg, json_object_get(request, "object"), &patch, out);
        return patch;
}

static void describe_pod(const json_t *request, AdmissionOutcome *out) {
        const json_t *meta = json_object_get(json_object_get(request, "object"), "metadata");
        const char *ns = json_string_value(json_object_get(request, "namespace"));
        const char *name = json_string_value(json_object_get(meta, "name"));
        if (!name || !name[0])
                name = json_string_value(json_object_get(request, "name"));
        if (!name || !name[0])
                name = json_string_value(json_object_get(meta, "generateName"));
        snprintf(out->pod, sizeof(out->pod), "%.100s/%.140s", ns ? ns : "", name ? name : "");
}

int admission_review(const AdmissionConfig *cfg, const char *body, size_t size, char **ret_response,
                     size_t *ret_size, AdmissionOutcome *ret_outcome, ColoError *err) {
        if (size > ADMISSION_REVIEW_MAX_SIZE)
                return colo_error_setf_plain(err, EMSGSIZE, "AdmissionReview of %zu bytes exceeds %u", size,
                                             ADMISSION_REVIEW_MAX_SIZE);
        json_error_t jerr;
        _cleanup_(json_decrefp) json_t *review = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!review)
                return colo_error_setf_plain(err, EINVAL, "request body is not JSON: %s (line %d, column %d)",
                                             jerr.text, jerr.line, jerr.column);
        if (!json_is_object(review))
                return colo_error_setf_plain(err, EINVAL, "request body is not a JSON object");
        const char *api_version = json_string_value(json_object_get(review, "apiVersion"));
        const char *kind = json_string_value(json_object_get(review, "kind"));
        if (!api_version || strcmp(api_version, ADMISSION_REVIEW_API_VERSION) != 0)
                return colo_error_setf_plain(err, EINVAL, "apiVersion must be " ADMISSION_REVIEW_API_VERSION " (got "
                                             "'%.64s'); list only v1 in admissionReviewVersions",
                                             api_version ? api_version : "");
        if (!kind || strcmp(kind, "AdmissionReview") != 0)
                return colo_error_setf_plain(err, EINVAL, "kind must be AdmissionReview (got '%.64s')", kind ? kind : "");
        const json_t *request = json_object_get(review, "request");
        if (!json_is_object(request))
                return colo_error_setf_plain(err, EINVAL, "request: missing or not an object");
        const json_t *uid = json_object_get(request, "uid");
        if (!json_is_string(uid) || json_string_length(uid) == 0)
                return colo_error_setf_plain(err, EINVAL, "request.uid: missing, empty or not a string");

        AdmissionOutcome out = { .workload_class = _CLASS_INVALID };
        snprintf(out.uid, sizeof(out.uid), "%s", json_string_value(uid));
        describe_pod(request, &out);
        _cleanup_(json_decrefp) json_t *patch = decide(cfg, request, &out);
        if (out.code == 500)
                return colo_error_set(err, ENOMEM, "admission review");

        _cleanup_(json_decrefp) json_t *response = json_pack("{s:O, s:b}", "uid", uid, "allowed", out.allowed);
        if (!response)
                return colo_error_set(err, ENOMEM, "admission review");
        if (out.allowed && patch && json_array_size(patch) > 0) {
                _cleanup_free_ char *text = json_dumps(patch, JSON_COMPACT);
                _cleanup_free_ char *b64 = text ? admission_base64_encode(text, strlen(text)) : NULL;
                if (!b64 || json_object_set_new(response, "patchType", json_string("JSONPatch")) < 0 ||
                    json_object_set_new(response, "patch", json_string(b64)) < 0)
                        return colo_error_set(err, ENOMEM, "admission review");
        }
        if (!out.allowed) {
                json_t *status = json_pack("{s:s, s:s, s:s, s:i}", "status", "Failure", "message", out.message, "reason",
                                           out.code == 422 ? "Invalid" : "BadRequest", "code", out.code);
                if (!status || json_object_set_new(response, "status", status) < 0)
                        return colo_error_set(err, ENOMEM, "admission review");
        }
        _cleanup_(json_decrefp) json_t *reply = json_pack("{s:s, s:s, s:O}", "apiVersion", api_version, "kind", kind,
                                                         "response", response);
        char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
        if (!text)
                return colo_error_set(err, ENOMEM, "admission review");
        *ret_size = strlen(text);
        *ret_response = text;
        if (ret_outcome)
                *ret_outcome = out;
        return 0;
}
