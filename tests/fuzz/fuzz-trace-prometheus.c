/* Fuzzes the Prometheus range-query reader over a memory buffer (see fuzz-trace-common.h). */
#include "fuzz-trace-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        return fuzz_trace_reader(TRACE_FORMAT_PROMETHEUS, data, size);
}
