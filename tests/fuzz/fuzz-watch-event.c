/* Fuzz target of what the pod watch and the evictor read from the API server: the input is parsed
 * as one watch event line, as a PodList page, as a metav1.Status (error bodies, 429 with
 * details.retryAfterSeconds), and as a chunked stream cut at an input-chosen point, which must
 * yield the same lines as when fed whole. Refusals must say why; accepted pods must carry a UID
 * that is safe in a cgroup path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kubeclient.h"
#include "kube/pod-watch.h"

#define CHECK(cond)                                                                      \
        do {                                                                             \
                if (!(cond)) {                                                           \
                        fprintf(stderr, "fuzz-watch-event: check failed: %s\n", #cond);  \
                        abort();                                                         \
                }                                                                        \
        } while (0)

typedef struct Lines {
        size_t n;
        uint64_t hash;
} Lines;

static int count_line(void *userdata, const char *line, size_t size) {
        Lines *l = userdata;
        CHECK(size > 0 && memchr(line, '\n', size) == NULL && line[size] == '\0');
        l->n++;
        for (size_t i = 0; i < size; i++)
                l->hash = l->hash * 1099511628211ULL ^ (uint8_t) line[i];
        l->hash = l->hash * 1099511628211ULL ^ 0xff;
        return 0;
}

static void check_pod(const KubePod *p) {
        CHECK(pod_uid_is_valid(p->uid));
        CHECK(p->name[0] && p->namespace_[0]);
        CHECK(p->offline_cpu_request_milli >= 0 && p->offline_memory_request >= 0);
        CHECK(p->cls.workload_class == CLASS_ONLINE || p->cls.workload_class == CLASS_OFFLINE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data;
        ColoError err = {};

        KubeWatchEvent *ev = calloc(1, sizeof(*ev));
        CHECK(ev);
        int r = kube_watch_event_parse(text, size, ev, &err);
        if (r < 0)
                CHECK(err.code > 0 && err.msg[0]);
        else {
                CHECK(kube_watch_event_type_to_string(ev->type));
                if (ev->type != KUBE_WATCH_ERROR && ev->type != KUBE_WATCH_BOOKMARK)
                        check_pod(&ev->pod);
                if (ev->type != KUBE_WATCH_ERROR)
                        CHECK(ev->resource_version[0]);
        }
        free(ev);

        KubePod *pods = NULL;
        size_t n = 0;
        char rv[KUBE_RESOURCE_VERSION_MAX];
        char *cont = NULL;
        colo_error_clear(&err);
        r = kube_pod_list_parse(text, size, &pods, &n, rv, &cont, &err);
        if (r < 0) {
                CHECK(err.code > 0 && err.msg[0]);
                CHECK(!pods && !cont);
        } else {
                CHECK(rv[0]);
                for (size_t i = 0; i < n; i++)
                        check_pod(&pods[i]);
        }
        free(pods);
        free(cont);

        KubeStatus st;
        if (kube_status_parse(text, size, &st) >= 0) {
                CHECK(st.code >= 0 && st.code < 1000);
                CHECK(st.retry_after_seconds >= 0 && st.retry_after_seconds <= 86400);
                CHECK(strlen(st.reason) < sizeof(st.reason) && strlen(st.details_kind) < sizeof(st.details_kind));
        }

        /* The line splitter does not depend on how the stream is chunked. */
        KubeLineBuffer whole = { .max_line = 4096 }, split = { .max_line = 4096 };
        Lines a = {}, b = {};
        int ra = kube_line_buffer_feed(&whole, text, size, count_line, &a);
        size_t cut = size > 0 ? data[0] % (size + 1) : 0;
        int rb = kube_line_buffer_feed(&split, text, cut, count_line, &b);
        if (rb == 0)
                rb = kube_line_buffer_feed(&split, text + cut, size - cut, count_line, &b);
        CHECK(ra == rb);
        if (ra == 0)
                CHECK(a.n == b.n && a.hash == b.hash);
        kube_line_buffer_reset(&whole);
        kube_line_buffer_reset(&split);
        return 0;
}
