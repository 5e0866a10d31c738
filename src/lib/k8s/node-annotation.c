/* Encoding and decoding of the colo.io/node-usage annotation with jansson; timestamps as RFC 3339. */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "k8s/node-annotation.h"
#include "util/macro.h"


typedef struct Field {
        const char *key;
        size_t offset;
        bool required;
} Field;

static const Field fields[] = {
        { "cpuCapacityMilli", offsetof(NodeUsage, cpu_capacity_milli), true },
        { "memCapacity", offsetof(NodeUsage, mem_capacity), true },
        { "cpuUsageMilli", offsetof(NodeUsage, cpu_usage_milli), true },
        { "cpuPeakMilli", offsetof(NodeUsage, cpu_peak_milli), true },
        { "memUsage", offsetof(NodeUsage, mem_usage), true },
        { "memPeak", offsetof(NodeUsage, mem_peak), true },
        { "offlineCpuMilli", offsetof(NodeUsage, offline_cpu_milli), true },
        { "offlineMemory", offsetof(NodeUsage, offline_memory), true },
        { "offlineCpuRequestedMilli", offsetof(NodeUsage, offline_cpu_requested_milli), false },
        { "offlineMemoryRequested", offsetof(NodeUsage, offline_memory_requested), false },
};

static int64_t *field_ptr(NodeUsage *u, const Field *f) {
        return (int64_t *) ((char *) u + f->offset);
}

int node_usage_format(const NodeUsage *u, char **ret, ColoError *err) {
        _cleanup_(json_decrefp) json_t *o = json_object();
        if (!o)
                return colo_error_set(err, ENOMEM, "node usage annotation");
        NodeUsage copy = *u;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                int64_t v = *field_ptr(&copy, &fields[i]);
                if (v < 0)
                        return colo_error_setf_plain(err, EINVAL, "node usage: %s is negative (%" PRId64 ")",
                                                     fields[i].key, v);
                if (json_object_set_new(o, fields[i].key, json_integer(v)) < 0)
                        return colo_error_set(err, ENOMEM, "node usage annotation");
        }
        char ts[64];
        if (rfc3339_format(u->updated_usec, ts, sizeof(ts)) < 0)
                return colo_error_setf_plain(err, EINVAL, "node usage: updated time out of range");
        if (json_object_set_new(o, "updated", json_string(ts)) < 0)
                return colo_error_set(err, ENOMEM, "node usage annotation");
        char *s = json_dumps(o, JSON_COMPACT);
        if (!s)
                return colo_error_set(err, ENOMEM, "node usage annotation");
        *ret = s;
        return 0;
}

int node_usage_parse(const char *value, size_t size, NodeUsage *ret, ColoError *err) {
        if (size > NODE_USAGE_ANNOTATION_MAX)
                return colo_error_setf_plain(err, EINVAL, NODE_USAGE_ANNOTATION ": longer than %d bytes",
                                             NODE_USAGE_ANNOTATION_MAX);
        json_error_t jerr;
        _cleanup_(json_decrefp) json_t *o = json_loadb(value, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!o)
                return colo_error_setf_plain(err, EINVAL, NODE_USAGE_ANNOTATION ": not JSON: %s", jerr.text);
        if (!json_is_object(o))
                return colo_error_setf_plain(err, EINVAL, NODE_USAGE_ANNOTATION ": not a JSON object");
        NodeUsage u = {};
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const json_t *v = json_object_get(o, fields[i].key);
                if (!v) {
                        if (fields[i].required)
                                return colo_error_setf_plain(err, EINVAL, NODE_USAGE_ANNOTATION ": missing \"%s\"",
                                                             fields[i].key);
                        continue;
                }
                if (!json_is_integer(v) || json_integer_value(v) < 0)
                        return colo_error_setf_plain(err, EINVAL,
                                                     NODE_USAGE_ANNOTATION ": \"%s\" is not a non-negative integer",
                                                     fields[i].key);
                *field_ptr(&u, &fields[i]) = json_integer_value(v);
        }
        const json_t *t = json_object_get(o, "updated");
        if (!json_is_string(t))
                return colo_error_setf_plain(err, EINVAL, NODE_USAGE_ANNOTATION ": \"updated\" missing or not a string");
        if (rfc3339_parse(json_string_value(t), &u.updated_usec) < 0)
                return colo_error_setf_plain(err, EINVAL, NODE_USAGE_ANNOTATION ": \"updated\": '%s' is not RFC 3339",
                                             json_string_value(t));
        *ret = u;
        return 0;
}

bool node_usage_is_fresh(const NodeUsage *u, uint64_t now_usec, uint64_t max_age_usec) {
        if (u->updated_usec > now_usec)
                return u->updated_usec - now_usec <= max_age_usec;
        return now_usec - u->updated_usec <= max_age_usec;
}

int rfc3339_format(uint64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (!gmtime_r(&t, &tm))
                return -ERANGE;
        size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return n == 0 ? -ENOBUFS : (int) n;
}

/* Reads exactly n digits. */
static bool read_digits(const char **p, int n, int *ret) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char) (*p)[i]))
                        return false;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

int rfc3339_parse(const char *s, uint64_t *ret_usec) {
        const char *p = s;
        int year, mon, mday, hour, min, sec;
        if (!read_digits(&p, 4, &year) || *p++ != '-' || !read_digits(&p, 2, &mon) || *p++ != '-' ||
            !read_digits(&p, 2, &mday) || (*p != 'T' && *p != 't') || !(p++, read_digits(&p, 2, &hour)) ||
            *p++ != ':' || !read_digits(&p, 2, &min) || *p++ != ':' || !read_digits(&p, 2, &sec))
                return -EINVAL;
        if (year < 1970 || mon < 1 || mon > 12 || mday < 1 || mday > 31 || hour > 23 || min > 59 || sec > 60)
                return -EINVAL;
        uint64_t frac_usec = 0;
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                uint64_t scale = 100000;
                for (; isdigit((unsigned char) *p); p++, scale /= 10)
                        frac_usec += (uint64_t) (*p - '0') * scale;
        }
        int64_t offset = 0;
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1, oh, om;
                if (!read_digits(&p, 2, &oh) || *p++ != ':' || !read_digits(&p, 2, &om) || oh > 23 || om > 59)
                        return -EINVAL;
                offset = sign * (oh * 3600 + om * 60);
        } else
                return -EINVAL;
        if (*p != '\0')
                return -EINVAL;
        struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = mday,
                         .tm_hour = hour, .tm_min = min, .tm_sec = sec };
        time_t t = timegm(&tm);
        if (t == (time_t) -1 || tm.tm_mday != mday)      /* timegm normalises 31 Feb; reject that */
                return -EINVAL;
        int64_t utc = (int64_t) t - offset;
        if (utc < 0)
                return -EINVAL;
        *ret_usec = (uint64_t) utc * USEC_PER_SEC + frac_usec;
        return 0;
}
