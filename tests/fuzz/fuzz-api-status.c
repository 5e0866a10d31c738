/* Fuzz target of what the agent reads back from the Kubernetes API server besides watch events:
 * a metav1.Status body (failed evictions and node patches), an integer extended-resource quantity
 * (the node read back after a patch) and a containerStatuses[].containerID. The whole input is a
 * Status body; its first line is the quantity and the container ID. Beyond "no crash, no leak":
 * an accepted Status has an HTTP code in 0..999 and NUL-terminated texts; an accepted quantity is
 * whole and reads back from its formatting; an accepted container ID is alphanumeric and safe in
 * a cgroup path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kubeclient.h"
#include "k8s/pod-cgroup.h"
#include "k8s/resource-quantity.h"

#define CHECK(cond)                                                                       \
        do {                                                                              \
                if (!(cond)) {                                                            \
                        fprintf(stderr, "fuzz-api-status: check failed: %s\n", #cond);    \
                        abort();                                                          \
                }                                                                         \
        } while (0)

static void check_status(const uint8_t *data, size_t size) {
        KubeStatus st = { .code = -7 };
        if (kube_status_parse((const char *) data, size, &st) < 0) {
                CHECK(st.code == -7);           /* untouched */
                return;
        }
        CHECK(st.code >= 0 && st.code < 1000);
        CHECK(memchr(st.reason, '\0', sizeof(st.reason)) && memchr(st.message, '\0', sizeof(st.message)));
}

static void check_quantity(const char *s) {
        int64_t v = -7, back;
        char buf[32];
        if (quantity_parse_integer(s, &v) < 0) {
                CHECK(v == -7);
                return;
        }
        CHECK(v >= 0);
        CHECK(quantity_format_units(v, buf, sizeof(buf)) > 0);
        CHECK(quantity_parse_integer(buf, &back) == 0 && back == v);
        /* Whole quantities are the same at scale 0. */
        CHECK(quantity_parse_units(s, &back) == 0 && back == v);
}

static void check_container_id(const char *s) {
        KubeRuntime rt = _KUBE_RUNTIME_MAX;
        char id[CONTAINER_ID_MAX], small[8];
        if (kube_container_id_parse(s, &rt, id, sizeof(id)) < 0)
                return;
        CHECK(rt >= 0 && rt < _KUBE_RUNTIME_MAX);
        CHECK(id[0] && strlen(id) < sizeof(id));
        for (const char *p = id; *p; p++)
                CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'));
        CHECK(strstr(s, id) && strlen(strstr(s, "://") + 3) == strlen(id));
        /* A buffer too small is refused, never overrun. */
        int r = kube_container_id_parse(s, NULL, small, sizeof(small));
        CHECK(strlen(id) < sizeof(small) ? r == 0 && strcmp(small, id) == 0 : r == -ENOBUFS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_status(data, size);

        char line[256];
        size_t n = 0;
        while (n < size && n < sizeof(line) - 1 && data[n] != '\n' && data[n] != '\0')
                n++;
        memcpy(line, data, n);
        line[n] = '\0';
        check_quantity(line);
        check_container_id(line);
        return 0;
}
