/* Shared by the trace module's own files only: the line source, the id interning map, the
 * resampler and the reader object the per-format parsers fill. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "trace/trace.h"

/* Lines from a gzip/plain file (zlib) or a plain memory buffer, with their line numbers. */
typedef struct LineSource {
        gzFile gz;                      /* NULL for a memory buffer */
        const char *mem;
        size_t mem_size, mem_pos;
        uint64_t line_no;
        size_t chunk_len;               /* bytes in buf (memory lines may hold NULs) */
        char buf[TRACE_LINE_MAX + 2];   /* line plus '\n' and NUL */
} LineSource;

int line_source_open_file(LineSource *s, const char *path, ColoError *err);
void line_source_open_buffer(LineSource *s, const void *data, size_t size);
void line_source_close(LineSource *s);

/* Next line without its "\n" or "\r\n", NUL-terminated in s->buf (writable). Returns 1 with
 * *ret_line, *ret_len and *ret_too_long (the rest of an over-long line has been skipped), 0 at
 * the end, or -EIO with a message naming name and the line. */
int line_source_next(LineSource *s, const char *name, char **ret_line, size_t *ret_len, bool *ret_too_long,
                     ColoError *err);

/* Interns strings: each distinct id gets the next index, in order of first appearance. */
typedef struct IdMap {
        char **names;           /* index -> id */
        size_t n_names, names_cap;
        uint32_t *slots;        /* open addressing: index + 1, 0 empty */
        size_t n_slots;         /* power of two, at least twice n_names */
} IdMap;

/* Returns 1 if id was added (ret_index = the new index), 0 if known, -ENOMEM. */
int id_map_intern(IdMap *m, const char *id, size_t *ret_index);
/* 0 with *ret_index, or -ENOENT. */
int id_map_lookup(const IdMap *m, const char *id, size_t *ret_index);
void id_map_done(IdMap *m);

/* Per-node resampling state (see trace.h for the rules). */
typedef struct Resampler {
        bool open;              /* a step has readings and is not yet emitted */
        bool emitted;           /* last_end and last_value are set */
        uint64_t open_end;      /* seconds */
        double open_max;
        uint64_t last_end;
        double last_value;
} Resampler;

typedef struct TraceNode {
        char *name;
        double limit;
        uint64_t last_t;        /* alibaba: the machine's last valid time stamp */
        Resampler resampler;
} TraceNode;

typedef struct AzureState AzureState;
typedef struct AlibabaState AlibabaState;
typedef struct PromState PromState;

struct TraceReader {
        char *name;
        TraceOptions opt;
        TraceFormat format;
        LineSource lines;
        TraceStats stats;
        bool finished;

        TraceNode *nodes;
        size_t n_nodes, nodes_cap;

        TraceSample *queue;     /* samples waiting for trace_reader_next(), drained before more lines are read */
        size_t queue_head, queue_len, queue_cap;

        AzureState *azure;
        AlibabaState *alibaba;
        PromState *prom;
};

/* Counts a skipped row of the current line. */
void trace_count_malformed(TraceReader *r, TraceRowError kind);

/* Splits line at commas in place; returns the field count (fields beyond max are counted, not stored). */
size_t trace_split_fields(char *line, char **fields, size_t max);

/* Whole-field parsers: seconds are a plain non-negative integer below 2^44 (so they fit in
 * microseconds); percent is a finite number (range checks are the caller's). */
int trace_parse_seconds(const char *s, uint64_t *ret);
int trace_parse_percent(const char *s, double *ret, TraceRowError *ret_kind);

/* Appends a node named name with the given limit; returns its index or -ENOMEM. */
int64_t trace_add_node(TraceReader *r, const char *name, double limit);

/* Feeds a raw reading of node (seconds, usage) to its resampler, which may queue samples. */
int trace_resample_push(TraceReader *r, size_t node, uint64_t t_sec, double usage);
/* Emits the node's open step, at the end of the trace. */
int trace_resample_flush(TraceReader *r, size_t node);

/* Per-format parsers: a line (fields already split), the end of the trace, node members. */
int trace_azure_row(TraceReader *r, char **fields, size_t n_fields);
int trace_azure_finish(TraceReader *r, ColoError *err);
const char *trace_azure_member(const TraceReader *r, size_t node, size_t i);
AzureState *trace_azure_free(AzureState *a);

int trace_alibaba_row(TraceReader *r, char **fields, size_t n_fields);
int trace_alibaba_finish(TraceReader *r, ColoError *err);
AlibabaState *trace_alibaba_free(AlibabaState *a);

DEFINE_TRIVIAL_CLEANUP_FUNC(TraceLimits *, trace_limits_free);

/* Prometheus (trace-prometheus.c): loads the document on the first call, then feeds one
 * timestamp of one node to its resampler per call. Returns 1 while there is more, 0 at the end
 * (r->finished set), or -errno with err filled. */
int trace_prom_advance(TraceReader *r, ColoError *err);
PromState *trace_prom_free(PromState *p);
const char *trace_prom_member(const TraceReader *r, size_t node, size_t i);
/* The first byte of the input without consuming it, or -1 at the end or on an error. */
int line_source_peek(LineSource *s);
/* Everything left, at most max bytes (-EFBIG beyond): *ret points into the memory buffer or to a
 * malloc'd copy (*ret_owned, NUL-terminated either way only for the copy). */
int line_source_read_rest(LineSource *s, const char *name, size_t max, const char **ret, size_t *ret_size,
                          char **ret_owned, ColoError *err);

#define AZURE_FIELDS 5
#define ALIBABA_FIELDS 9
