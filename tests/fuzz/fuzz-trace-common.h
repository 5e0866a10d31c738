/* The body shared by the trace reader fuzz targets: reads a memory buffer with the options picked
 * by its first byte (node size, signal, step, max gap), so the packing and resampling paths are
 * explored too; the rest is the trace text. Every sample must be finite and each node's times
 * must increase. */
#pragma once

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "trace/trace.h"

static inline int fuzz_trace_reader(TraceFormat format, const uint8_t *data, size_t size) {
        static const uint64_t steps[] = { 300, 60, 600, 1 };
        TraceOptions o;
        TraceReader *r = NULL;
        TraceSample s;

        if (size < 1)
                return 0;
        trace_options_init_defaults(&o);
        o.format = format;
        o.node_size = 1 + (data[0] & 7);
        /* The second signal: Azure's avg column, Alibaba's memory column. */
        TraceSignal other = format == TRACE_FORMAT_ALIBABA ? TRACE_SIGNAL_MEM : TRACE_SIGNAL_AVG;
        o.signal = (data[0] >> 3) & 1 ? other : TRACE_SIGNAL_MAX;
        o.max_gap_steps = (data[0] >> 4) & 3;
        o.step_sec = steps[(data[0] >> 6) & 3];
        if (trace_reader_open_buffer(data + 1, size - 1, "fuzz", &o, &r, NULL) < 0)
                abort();

        uint64_t *last = NULL;
        size_t n_last = 0;
        int k;
        while ((k = trace_reader_next(r, &s, NULL)) > 0) {
                if (!isfinite(s.usage) || s.usage < 0 || s.usage > s.limit || s.node >= trace_reader_n_nodes(r))
                        abort();
                if (s.node >= n_last) {
                        uint64_t *p = realloc(last, (s.node + 1) * sizeof(*p));
                        if (!p)
                                abort();
                        for (size_t i = n_last; i <= s.node; i++)
                                p[i] = UINT64_MAX;
                        last = p;
                        n_last = s.node + 1;
                } else if (last[s.node] != UINT64_MAX && s.t_usec <= last[s.node])
                        abort();
                last[s.node] = s.t_usec;
        }
        free(last);
        trace_reader_free(r);
        return 0;
}
