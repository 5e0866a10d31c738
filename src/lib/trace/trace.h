/* Readers of published CPU-usage traces, streamed row by row (zlib: gzip or plain text alike),
 * turned into per-node usage series on a fixed time grid for the simulator.
 *
 * Azure Public Dataset V1 VM CPU readings, `timestamp,vm id,min cpu,max cpu,avg cpu`, no header,
 * rows time-ordered; only the timestamp, the VM id and the selected CPU column are checked (min
 * cpu is empty in some published slices). VMs are packed into nodes of node_size VMs in order of first appearance
 * (VM i belongs to node i / node_size); a node exists once its last VM has appeared, so the
 * incomplete last node is never emitted. Each VM's limit is 1.0 and its usage max cpu / 100
 * (avg cpu / 100 with TRACE_SIGNAL_AVG). A VM without a reading at a timestamp carries its last
 * value forward for up to max_gap_steps steps (counted in vm_readings_carried); after that it
 * counts as 0 (gone, counted in vm_readings_absent) but its node keeps its limit.
 *
 * Alibaba cluster-trace-v2018 machine_usage, `machine_id,time_stamp,cpu_util_percent,
 * mem_util_percent,mem_gps,mkpi,net_in,net_out,disk_io_percent`, no header. Each machine is a
 * node with limit 1.0 and usage cpu_util_percent / 100. Rows may be grouped by machine (as
 * published) or interleaved; each machine's timestamps must not go backwards. Only the machine
 * id, time stamp and CPU fields are read; the others may be empty.
 *
 * Resampling (both formats): the grid is the multiples of step_sec. A reading at t falls in the
 * step ending at ceil(t / step) * step, i.e. (end - step, end]; a step's value is the maximum of
 * its readings, emitted with t = end. Steps without readings between two non-empty steps are
 * filled with the last value when there are at most max_gap_steps of them (gap_steps_filled);
 * longer gaps break the series: those steps are not emitted at all (gap_steps_skipped,
 * series_breaks). So emitted samples of one node are strictly increasing multiples of step.
 *
 * Malformed rows are counted by kind, with the line of the first of each kind, and skipped; the
 * read fails only when no valid row (Azure: no complete node) remains. Memory is O(VMs + nodes),
 * never O(rows). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum TraceFormat {
        TRACE_FORMAT_AUTO,      /* a first byte '{' is prometheus, else the first valid line: 5 fields azure, 9 alibaba */
        TRACE_FORMAT_AZURE,
        TRACE_FORMAT_ALIBABA,
        TRACE_FORMAT_PROMETHEUS,
        _TRACE_FORMAT_MAX,
        _TRACE_FORMAT_INVALID = -EINVAL,
} TraceFormat;

typedef enum TraceSignal {
        TRACE_SIGNAL_MAX,       /* azure max cpu column */
        TRACE_SIGNAL_AVG,       /* azure avg cpu column */
        TRACE_SIGNAL_MEM,       /* alibaba mem_util_percent: usage in units of the machine's memory (limit 1) */
        _TRACE_SIGNAL_MAX,
        _TRACE_SIGNAL_INVALID = -EINVAL,
} TraceSignal;

/* Why a row was skipped. */
typedef enum TraceRowError {
        TRACE_ROW_BLANK,            /* empty line */
        TRACE_ROW_TOO_LONG,         /* longer than TRACE_LINE_MAX */
        TRACE_ROW_FIELD_COUNT,      /* not 5 (azure) or 9 (alibaba) comma-separated fields */
        TRACE_ROW_BAD_ID,           /* empty VM or machine id */
        TRACE_ROW_BAD_TIMESTAMP,    /* not a non-negative integer number of seconds */
        TRACE_ROW_EMPTY_VALUE,      /* the CPU field used is empty */
        TRACE_ROW_BAD_NUMBER,       /* the CPU field is not a finite number */
        TRACE_ROW_INVALID_MARKER,   /* alibaba's invalid-value markers, -1 and 101 */
        TRACE_ROW_OUT_OF_RANGE,     /* CPU outside [0, 100] */
        TRACE_ROW_OUT_OF_ORDER,     /* azure: timestamp before the previous row's; alibaba: before the machine's */
        TRACE_ROW_DUPLICATE,        /* azure: a second reading of one VM at one timestamp */
        _TRACE_ROW_ERROR_MAX,
} TraceRowError;

#define TRACE_LINE_MAX 4096
/* The machines of Alibaba cluster-trace-v2018 have 96 cores (machine_meta cpu_num). */
#define TRACE_ALIBABA_MACHINE_CORES 96.0

typedef struct TraceOptions {
        TraceFormat format;         /* TRACE_FORMAT_AUTO */
        TraceSignal signal;         /* TRACE_SIGNAL_MAX; avg: azure only; mem: needs format alibaba */
        size_t node_size;           /* 10 VMs per node (azure only) */
        uint64_t step_sec;          /* 300 */
        unsigned max_gap_steps;     /* 3 */
        double machine_cores;       /* alibaba: cores of one machine, 96 (cluster-trace-v2018's), so
                                     * usage and limit are in cores as in a Prometheus export */
        /* prometheus only (strings must outlive the reader): */
        const char *workload_label; /* "pod": the label naming a series' workload */
        const char *limit_label;    /* "limit": the label holding its CPU limit in cores */
        const char *node_label;     /* "node": series with the same value share a node */
        const char *limits_path;    /* NULL, or a file of `workload,cores` lines (trace_limits_parse()) */
} TraceOptions;

typedef struct TraceStats {
        uint64_t lines;                             /* lines read */
        uint64_t rows;                              /* valid rows */
        uint64_t malformed[_TRACE_ROW_ERROR_MAX];   /* skipped rows by kind */
        uint64_t first_line[_TRACE_ROW_ERROR_MAX];  /* line of the first of each kind, 0 if none */
        uint64_t sources;                           /* VMs (azure) or machines (alibaba) seen */
        uint64_t sources_dropped;                   /* azure: VMs of the incomplete last node */
        uint64_t vm_readings_carried;               /* azure: missing readings filled with the last value */
        uint64_t vm_readings_absent;                /* azure: missing readings counted as 0 */
        uint64_t samples;                           /* node samples emitted, fills included */
        uint64_t gap_steps_filled;
        uint64_t gap_steps_skipped;
        uint64_t series_breaks;
        /* prometheus: */
        uint64_t series_without_limit;              /* no limit label nor limits-file entry: skipped */
        uint64_t series_ended;                      /* stale: ended before their node's last point */
        uint64_t values_not_finite;                 /* "NaN", "+Inf", "-Inf": treated as missing */
        uint64_t values_negative;                   /* treated as missing */
        uint64_t values_clamped;                    /* above the series' limit: counted at the limit */
} TraceStats;

/* One point of a node's series: usage and the sum of limits over the step ending at t. */
typedef struct TraceSample {
        size_t node;
        uint64_t t_usec;
        double usage;
        double limit;
} TraceSample;

typedef struct TraceReader TraceReader;

void trace_options_init_defaults(TraceOptions *o);

const char *trace_format_to_string(TraceFormat f);          /* "auto", "azure", "alibaba" */
TraceFormat trace_format_from_string(const char *s);        /* _TRACE_FORMAT_INVALID if unknown */
TraceSignal trace_signal_from_string(const char *s);
const char *trace_row_error_to_string(TraceRowError e);     /* "field count", "invalid marker", ... */
uint64_t trace_stats_malformed_total(const TraceStats *s);

/* Prometheus range-query export: the JSON body of /api/v1/query_range, gzip or plain, with
 * "status":"success" and data.resultType "matrix" (an error body is reported with its message).
 * Each series of data.result is a workload whose values are its CPU usage in cores; its name is
 * its workload_label (else its whole label set), its limit the limit_label's value or its entry in
 * the limits file (series with neither are counted and skipped). Series sharing a node_label value
 * form a node; series without one are packed node_size at a time in order of appearance. A node's
 * limit is the sum of its series' limits; at each timestamp of any of its series, its usage is the
 * sum of its series' values, each clamped to its limit. A value "NaN" or +-Inf (Prometheus writes
 * them so) or a negative one counts as missing. A series missing at a timestamp inside its span
 * (a gap) carries its last value forward for up to max_gap_steps of its node's timestamps
 * (vm_readings_carried), then counts 0 (vm_readings_absent); after its last point (a stale
 * marker ends a series: range queries then return nothing for it) it counts 0 (series_ended);
 * before its first, 0. Then resampled as the other formats. The document is held while it is
 * read (at most TRACE_PROMETHEUS_MAX_BYTES); a structural error fails the read naming the field
 * (e.g. data.result[2].values[7]) before any sample is returned. Timestamps are Unix seconds. */
#define TRACE_PROMETHEUS_MAX_BYTES (128u << 20)
#define TRACE_PROMETHEUS_MAX_SERIES 100000
/* A workload's limit, from a label or the limits file: at most this many cores, so node sums
 * stay finite. */
#define TRACE_LIMIT_MAX_CORES 1e6

/* The limits file: `workload,cores` per line; blank lines and lines starting with '#' are
 * ignored; cores a number in (0, TRACE_LIMIT_MAX_CORES]; a workload at most once. Errors name the line. */
typedef struct TraceLimits TraceLimits;
int trace_limits_parse(const char *text, size_t size, const char *name, TraceLimits **ret, ColoError *err);
int trace_limits_load(const char *path, TraceLimits **ret, ColoError *err);
/* The workload's limit, or NAN if it has none. */
double trace_limits_get(const TraceLimits *l, const char *workload);
size_t trace_limits_count(const TraceLimits *l);
TraceLimits *trace_limits_free(TraceLimits *l);

/* Opens a trace file, gzip-compressed or plain. Nothing is read yet beyond the gzip header.
 * Fails with -EINVAL on bad options, -errno if the file cannot be opened. */
int trace_reader_open(const char *path, const TraceOptions *o, TraceReader **ret, ColoError *err);

/* The same over a plain-text buffer (not gzip), which must outlive the reader; name is used in
 * messages. For fuzzing and tests. */
int trace_reader_open_buffer(const void *data, size_t size, const char *name, const TraceOptions *o,
                             TraceReader **ret, ColoError *err);

TraceReader *trace_reader_free(TraceReader *r);             /* NULL-safe, returns NULL */

/* The next sample of some node. Each node's samples come in increasing time; nodes interleave.
 * Returns 1 with *ret filled, 0 at the end of the trace, or -errno: -EIO on a read or
 * decompression error, -EBADMSG when the trace held no valid row or no complete node, -ENOMEM.
 * Messages name the file (and the line for read errors). Amortised O(1) per row. */
int trace_reader_next(TraceReader *r, TraceSample *ret, ColoError *err);

const char *trace_reader_name(const TraceReader *r);
TraceFormat trace_reader_format(const TraceReader *r);      /* TRACE_FORMAT_AUTO until detected */
TraceSignal trace_reader_signal(const TraceReader *r);
const TraceStats *trace_reader_stats(const TraceReader *r);

/* Nodes emitted so far are 0 .. n_nodes-1. Azure nodes are named "node<N>", alibaba nodes by
 * machine id. member(node, i) is the i-th VM id of an azure node (the machine id for alibaba),
 * NULL past the end or for an unknown node. */
size_t trace_reader_n_nodes(const TraceReader *r);
const char *trace_reader_node_name(const TraceReader *r, size_t node);
const char *trace_reader_node_member(const TraceReader *r, size_t node, size_t i);

/* Reads everything into stats without keeping samples; for tests and tools that need totals.
 * Returns the number of samples or -errno. */
int64_t trace_reader_drain(TraceReader *r, ColoError *err);
