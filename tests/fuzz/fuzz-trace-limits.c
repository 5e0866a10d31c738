/* Fuzzes the limits file of the Prometheus reader: parsed or refused, never both, and every
 * limit read back is finite and positive. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "trace/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        TraceLimits *l = NULL;
        int k = trace_limits_parse((const char *) data, size, "fuzz", &l, NULL);
        if ((k < 0) != (l == NULL))
                abort();
        double v = trace_limits_get(l, "a");
        if (l && !isnan(v) && !(isfinite(v) && v > 0))
                abort();
        trace_limits_free(l);
        return 0;
}
