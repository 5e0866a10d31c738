/* Encoding and decoding of the colo.io/node-usage annotation, both with yajl (no tree: the
 * extender reads one per candidate node, thousands per request); timestamps as RFC 3339. */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "k8s/node-annotation.h"
#include "util/fileio.h"
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

static void yajl_gen_freep(yajl_gen *g) {
        if (*g)
                yajl_gen_free(*g);
}

int node_usage_format(const NodeUsage *u, char **ret, ColoError *err) {
        NodeUsage copy = *u;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                int64_t v = *field_ptr(&copy, &fields[i]);
                if (v < 0)
                        return colo_error_setf_plain(err, EINVAL, "node usage: %s is negative (%" PRId64 ")",
                                                     fields[i].key, v);
        }
        char ts[64];
        if (rfc3339_format(u->updated_usec, ts, sizeof(ts)) < 0)
                return colo_error_setf_plain(err, EINVAL, "node usage: updated time out of range");

        _cleanup_(yajl_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
        bool ok = g && yajl_gen_map_open(g) == yajl_gen_status_ok;
        for (size_t i = 0; ok && i < ELEMENTSOF(fields); i++)
                ok = yajl_gen_string(g, (const unsigned char *) fields[i].key, strlen(fields[i].key)) == yajl_gen_status_ok &&
                     yajl_gen_integer(g, *field_ptr(&copy, &fields[i])) == yajl_gen_status_ok;
        ok = ok && yajl_gen_string(g, (const unsigned char *) "updated", 7) == yajl_gen_status_ok &&
             yajl_gen_string(g, (const unsigned char *) ts, strlen(ts)) == yajl_gen_status_ok &&
             yajl_gen_map_close(g) == yajl_gen_status_ok;
        const unsigned char *buf;
        size_t len;
        char *s = ok && yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok ? strndup((const char *) buf, len) : NULL;
        if (!s)
                return colo_error_set(err, ENOMEM, "node usage annotation");
        *ret = s;
        return 0;
}

/* Decoding with yajl's event parser: the extender reads one annotation per candidate node per
 * call, and a tree per annotation would cost more than the decision itself. */
typedef struct UsageParser {
        NodeUsage u;
        unsigned depth;
        int field;                      /* index into fields[], FIELD_UPDATED, or -1 (ignored key) */
        unsigned seen;                  /* bit per field, and FIELD_UPDATED */
        char error[160];
} UsageParser;

#define FIELD_UPDATED ((int) ELEMENTSOF(fields))

static int usage_error(UsageParser *p, const char *what) {
        const char *key = p->field == FIELD_UPDATED ? "updated" : p->field >= 0 ? fields[p->field].key : "";
        if (!p->error[0])
                snprintf(p->error, sizeof(p->error), what, key);
        return 0;
}

/* A value at depth 1 for a known key; values under ignored keys and deeper pass silently. */
static int usage_value(UsageParser *p, const char *number, size_t len, const unsigned char *string, size_t slen) {
        if (p->depth == 0)
                return usage_error(p, "not a JSON object");
        if (p->depth != 1 || p->field < 0)
                return 1;
        if (p->field == FIELD_UPDATED) {
                char ts[64];
                if (!string || slen >= sizeof(ts))
                        return usage_error(p, "\"%s\" missing or not a string");
                memcpy(ts, string, slen);
                ts[slen] = '\0';
                if (rfc3339_parse(ts, &p->u.updated_usec) < 0) {
                        snprintf(p->error, sizeof(p->error), "\"updated\": '%s' is not RFC 3339", ts);
                        return 0;
                }
        } else {
                char digits[24];
                int64_t v;
                bool ok = number && len > 0 && len < sizeof(digits);
                for (size_t i = 0; ok && i < len; i++)
                        ok = number[i] >= '0' && number[i] <= '9';
                if (ok) {
                        memcpy(digits, number, len);
                        digits[len] = '\0';
                        ok = parse_i64(digits, &v) >= 0;
                }
                if (!ok)
                        return usage_error(p, "\"%s\" is not a non-negative integer");
                *field_ptr(&p->u, &fields[p->field]) = v;
        }
        return 1;
}

static int usage_on_number(void *ctx, const char *s, size_t len) {
        return usage_value(ctx, s, len, NULL, 0);
}

static int usage_on_string(void *ctx, const unsigned char *s, size_t len) {
        return usage_value(ctx, NULL, 0, s, len);
}

static int usage_on_other(void *ctx) {
        return usage_value(ctx, NULL, 0, NULL, 0);
}

static int usage_on_boolean(void *ctx, int b) {
        (void) b;
        return usage_value(ctx, NULL, 0, NULL, 0);
}

static int usage_on_open(void *ctx, bool is_map) {
        UsageParser *p = ctx;
        if (p->depth == 0 && !is_map)
                return usage_error(p, "not a JSON object");
        if (p->depth == 1 && p->field >= 0)
                return usage_value(p, NULL, 0, NULL, 0);
        p->depth++;
        return 1;
}

static int usage_on_start_map(void *ctx) {
        return usage_on_open(ctx, true);
}

static int usage_on_start_array(void *ctx) {
        return usage_on_open(ctx, false);
}

static int usage_on_close(void *ctx) {
        UsageParser *p = ctx;
        p->depth--;
        return 1;
}

static int usage_on_key(void *ctx, const unsigned char *key, size_t len) {
        UsageParser *p = ctx;
        if (p->depth != 1)
                return 1;
        p->field = -1;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (strlen(fields[i].key) == len && memcmp(fields[i].key, key, len) == 0)
                        p->field = (int) i;
        if (len == 7 && memcmp(key, "updated", 7) == 0)
                p->field = FIELD_UPDATED;
        if (p->field >= 0) {
                if (p->seen & (1u << p->field))
                        return usage_error(p, "duplicate key \"%s\"");
                p->seen |= 1u << p->field;
        }
        return 1;
}

static const yajl_callbacks usage_callbacks = {
        .yajl_null = usage_on_other,
        .yajl_boolean = usage_on_boolean,
        .yajl_number = usage_on_number,
        .yajl_string = usage_on_string,
        .yajl_start_map = usage_on_start_map,
        .yajl_map_key = usage_on_key,
        .yajl_end_map = usage_on_close,
        .yajl_start_array = usage_on_start_array,
        .yajl_end_array = usage_on_close,
};

int node_usage_parse(const char *value, size_t size, NodeUsage *ret, ColoError *err) {
        if (size > NODE_USAGE_ANNOTATION_MAX)
                return colo_error_setf_plain(err, EINVAL, NODE_USAGE_ANNOTATION ": longer than %d bytes",
                                             NODE_USAGE_ANNOTATION_MAX);
        UsageParser p = { .field = -1 };
        yajl_handle h = yajl_alloc(&usage_callbacks, NULL, &p);
        if (!h)
                return colo_error_set(err, ENOMEM, NODE_USAGE_ANNOTATION);
        yajl_status st = yajl_parse(h, (const unsigned char *) value, size);
        if (st == yajl_status_ok)
                st = yajl_complete_parse(h);
        yajl_free(h);
        if (p.error[0])
                return colo_error_setf_plain(err, EINVAL, NODE_USAGE_ANNOTATION ": %s", p.error);
        if (st != yajl_status_ok)
                return colo_error_setf_plain(err, EINVAL, NODE_USAGE_ANNOTATION ": not JSON");
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (fields[i].required && !(p.seen & (1u << i)))
                        return colo_error_setf_plain(err, EINVAL, NODE_USAGE_ANNOTATION ": missing \"%s\"", fields[i].key);
        if (!(p.seen & (1u << FIELD_UPDATED)))
                return colo_error_setf_plain(err, EINVAL, NODE_USAGE_ANNOTATION ": \"updated\" missing or not a string");
        *ret = p.u;
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
