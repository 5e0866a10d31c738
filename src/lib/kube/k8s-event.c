/* core/v1 Events on pods: the body, shaped as client-go's event recorder writes it (Event in
 * k8s.io/api/core/v1/types.go: involvedObject, reason, message, source, first/lastTimestamp,
 * count, type, action, reportingComponent, reportingInstance), and one POST of it. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "kube/k8s-event.h"
#include "k8s/node-annotation.h"
#include "util/fileio.h"
#include "util/macro.h"

int kube_event_body(const KubeEventSpec *s, char **ret, ColoError *err) {
        if (!s || !s->namespace_ || !s->name || !s->uid || !s->reason || !s->message || !s->type || !s->action ||
            !s->node_name)
                return colo_error_setf_plain(err, EINVAL, "event: incomplete");
        char ts[64], name[254];
        if (rfc3339_format(s->realtime_usec, ts, sizeof(ts)) < 0)
                return colo_error_setf_plain(err, EINVAL, "event: bad time");
        /* As client-go names events: <object>.<hex nanoseconds>, within the 253-character limit. */
        char suffix[32];
        snprintf(suffix, sizeof(suffix), ".%llx", (unsigned long long) s->realtime_usec * 1000ULL);
        snprintf(name, sizeof(name), "%.*s%s", (int) (sizeof(name) - 1 - strlen(suffix)), s->name, suffix);
        json_t *involved = json_pack("{s:s, s:s, s:s, s:s, s:s}", "apiVersion", "v1", "kind", "Pod", "name", s->name,
                                     "namespace", s->namespace_, "uid", s->uid);
        if (involved && s->resource_version && s->resource_version[0])
                json_object_set_new(involved, "resourceVersion", json_string(s->resource_version));
        json_t *body = involved ? json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:i, "
                                            "s:s, s:s, s:s}",
                                            "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace",
                                            s->namespace_, "involvedObject", involved, "reason", s->reason, "message",
                                            s->message, "type", s->type, "source", "component", "colo-agent", "host",
                                            s->node_name, "firstTimestamp", ts, "lastTimestamp", ts, "count", 1,
                                            "reportingComponent", "colo.io/agent", "reportingInstance", s->node_name,
                                            "action", s->action)
                                : NULL;
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (!text)
                return colo_error_set(err, ENOMEM, "event body");
        *ret = text;
        return 0;
}

/* The namespace goes into a URL path: a DNS label. */
static bool is_dns_label(const char *s) {
        if (!s[0] || strlen(s) > 63)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
                        return false;
        return true;
}

int kube_event_post(KubeClient *c, const KubeEventSpec *s, KubeDoneCallback on_done, void *userdata,
                    KubeCall **ret_call, ColoError *err) {
        _cleanup_free_ char *path = NULL, *body = NULL;
        if (!s || !s->namespace_ || !is_dns_label(s->namespace_))
                return colo_error_setf_plain(err, EINVAL, "event: malformed namespace");
        int r = kube_event_body(s, &body, err);
        if (r < 0)
                return r;
        if (asprintf(&path, "/api/v1/namespaces/%s/events", s->namespace_) < 0) {
                path = NULL;
                return colo_error_set(err, ENOMEM, "event path");
        }
        KubeRequest req = {
                .method = "POST", .path = path, .content_type = "application/json", .body = body,
                .body_size = strlen(body), .timeout_usec = 30 * USEC_PER_SEC, .on_done = on_done, .userdata = userdata,
        };
        return kube_client_start(c, &req, ret_call, err);
}
