/* The limits file of the Prometheus reader: `workload,cores` per line, for exports whose series
 * carry no limit label. Strict: a bad line fails the whole file, naming the line. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace-internal.h"
#include "util/fileio.h"

#define LIMITS_MAX_BYTES (16u << 20)

struct TraceLimits {
        IdMap names;
        double *cores;          /* parallel to names */
        size_t cap;
};

TraceLimits *trace_limits_free(TraceLimits *l) {
        if (!l)
                return NULL;
        id_map_done(&l->names);
        free(l->cores);
        free(l);
        return NULL;
}



static int parse_line(TraceLimits *l, char *line, const char *name, uint64_t line_no, ColoError *err) {
        char *comma = strchr(line, ',');
        if (!comma || comma == line)
                return colo_error_setf_plain(err, EINVAL, "'%s': line %" PRIu64 ": expected workload,cores", name, line_no);
        *comma = '\0';
        const char *value = comma + 1;
        double cores;
        TraceRowError kind;
        if (trace_parse_percent(value, &cores, &kind) < 0 || cores <= 0 || cores > TRACE_LIMIT_MAX_CORES)
                return colo_error_setf_plain(err, EINVAL, "'%s': line %" PRIu64 ": cores: expected a number > 0 and <= %g, got '%s'",
                                             name, line_no, TRACE_LIMIT_MAX_CORES, value);
        size_t index;
        int r = id_map_intern(&l->names, line, &index);
        if (r < 0)
                return colo_error_set(err, -r, "'%s'", name);
        if (r == 0)
                return colo_error_setf_plain(err, EINVAL, "'%s': line %" PRIu64 ": workload '%s' given twice", name, line_no,
                                             line);
        if (index >= l->cap) {
                size_t cap = MAX(l->cap * 2, (size_t) 64);
                double *c = realloc(l->cores, cap * sizeof(double));
                if (!c)
                        return colo_error_set(err, ENOMEM, "'%s'", name);
                l->cores = c;
                l->cap = cap;
        }
        l->cores[index] = cores;
        return 0;
}

int trace_limits_parse(const char *text, size_t size, const char *name, TraceLimits **ret, ColoError *err) {
        _cleanup_(trace_limits_freep) TraceLimits *l = calloc(1, sizeof(*l));
        if (!l)
                return colo_error_set(err, ENOMEM, "'%s'", name);
        uint64_t line_no = 0;
        for (size_t pos = 0; pos < size;) {
                const char *start = text + pos;
                const char *nl = memchr(start, '\n', size - pos);
                size_t len = nl ? (size_t) (nl - start) : size - pos;
                pos += len + (nl ? 1 : 0);
                line_no++;
                if (len > 0 && start[len - 1] == '\r')
                        len--;
                if (len == 0 || start[0] == '#')
                        continue;
                if (len > TRACE_LINE_MAX || memchr(start, '\0', len))
                        return colo_error_setf_plain(err, EINVAL, "'%s': line %" PRIu64 ": too long or not text", name,
                                                     line_no);
                char line[TRACE_LINE_MAX + 1];
                memcpy(line, start, len);
                line[len] = '\0';
                int r = parse_line(l, line, name, line_no, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int trace_limits_load(const char *path, TraceLimits **ret, ColoError *err) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r = read_full_file(path, LIMITS_MAX_BYTES, &text, &size, err);
        if (r < 0)
                return r;
        return trace_limits_parse(text, size, path, ret, err);
}

double trace_limits_get(const TraceLimits *l, const char *workload) {
        size_t index;
        if (!l || id_map_lookup(&l->names, workload, &index) < 0)
                return NAN;
        return l->cores[index];
}

size_t trace_limits_count(const TraceLimits *l) {
        return l ? l->names.n_names : 0;
}
