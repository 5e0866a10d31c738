/* Alibaba cluster-trace-v2018 machine_usage: `machine_id,time_stamp,cpu_util_percent,
 * mem_util_percent,mem_gps,mkpi,net_in,net_out,disk_io_percent`. Each machine is a node of
 * machine_cores cores (96: the dataset's machines); usage is cpu_util_percent / 100 x machine_cores,
 * in cores like a Prometheus export, so that sizes given in cores (the simulator's offline jobs)
 * mean the same on both. Its readings, irregular in time, go to its resampler. With the mem
 * signal the series is mem_util_percent / 100 instead, in units of the machine's (normalised)
 * memory, limit 1.
 * Only the first three or four fields are read: the others are often empty in the published data. */
#include <stdlib.h>

#include "trace/trace-internal.h"

struct AlibabaState {
        IdMap machines;         /* machine id -> node index */
};

AlibabaState *trace_alibaba_free(AlibabaState *a) {
        if (!a)
                return NULL;
        id_map_done(&a->machines);
        free(a);
        return NULL;
}

int trace_alibaba_row(TraceReader *r, char **fields, size_t n_fields) {
        TraceRowError kind;
        uint64_t t;
        double cpu;
        int ret;

        if (n_fields != ALIBABA_FIELDS) {
                trace_count_malformed(r, TRACE_ROW_FIELD_COUNT);
                return 0;
        }
        if (fields[0][0] == '\0') {
                trace_count_malformed(r, TRACE_ROW_BAD_ID);
                return 0;
        }
        if (trace_parse_seconds(fields[1], &t) < 0) {
                trace_count_malformed(r, TRACE_ROW_BAD_TIMESTAMP);
                return 0;
        }
        bool mem = r->opt.signal == TRACE_SIGNAL_MEM;
        if (trace_parse_percent(fields[mem ? 3 : 2], &cpu, &kind) < 0) {
                trace_count_malformed(r, kind);
                return 0;
        }
        /* The dataset's own markers of an invalid reading. */
        if (cpu == -1 || cpu == 101) {
                trace_count_malformed(r, TRACE_ROW_INVALID_MARKER);
                return 0;
        }
        if (cpu < 0 || cpu > 100) {
                trace_count_malformed(r, TRACE_ROW_OUT_OF_RANGE);
                return 0;
        }

        if (!r->alibaba) {
                r->alibaba = calloc(1, sizeof(AlibabaState));
                if (!r->alibaba)
                        return -ENOMEM;
        }
        size_t node;
        ret = id_map_intern(&r->alibaba->machines, fields[0], &node);
        if (ret < 0)
                return ret;
        if (ret > 0) {
                int64_t n = trace_add_node(r, fields[0], mem ? 1.0 : r->opt.machine_cores);
                if (n < 0)
                        return (int) n;
        } else if (t < r->nodes[node].last_t) {
                trace_count_malformed(r, TRACE_ROW_OUT_OF_ORDER);
                return 0;
        }
        r->nodes[node].last_t = t;
        r->stats.rows++;
        return trace_resample_push(r, node, t, mem ? cpu / 100.0 : cpu * r->opt.machine_cores / 100.0);
}

int trace_alibaba_finish(TraceReader *r, ColoError *err) {
        for (size_t n = 0; n < r->n_nodes; n++) {
                int ret = trace_resample_flush(r, n);
                if (ret < 0)
                        return colo_error_set(err, -ret, "'%s'", r->name);
        }
        r->stats.sources = r->alibaba ? r->alibaba->machines.n_names : 0;
        return 0;
}
