/* Fuzz target of the status document decoder (status.json is read by every `colo status` and
 * `colo run`). Beyond "no crash, no leak": a refused input leaves the output untouched and says
 * why; an accepted one encodes back to JSON that decodes to the same document. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status/status-doc.h"

#define CHECK(cond)                                                                     \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "fuzz-status-doc: check failed: %s\n", #cond);  \
                        abort();                                                        \
                }                                                                       \
        } while (0)

static bool workloads_equal(const StatusWorkload *a, const StatusWorkload *b) {
        return strcmp(a->name, b->name) == 0 && a->cls == b->cls && a->tier == b->tier &&
               a->cpu_usage_cores == b->cpu_usage_cores && a->mem_usage == b->mem_usage &&
               a->mem_working_set == b->mem_working_set && a->nr_tasks == b->nr_tasks && a->state == b->state &&
               strcmp(a->reason, b->reason) == 0 && a->evicted_realtime_usec == b->evicted_realtime_usec;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        StatusDoc d = { .agent_pid = -7 };
        ColoError err = {};
        if (status_doc_from_json((const char *) data, size, &d, &err) < 0) {
                CHECK(d.agent_pid == -7 && !d.workloads);
                CHECK(err.msg[0] != '\0');
                return 0;
        }
        char *json = NULL;
        CHECK(status_doc_to_json(&d, &json, &err) == 0);
        StatusDoc back = {};
        CHECK(status_doc_from_json(json, strlen(json), &back, &err) == 0);
        CHECK(back.agent_pid == d.agent_pid && back.updated_realtime_usec == d.updated_realtime_usec);
        CHECK(back.mem_capacity == d.mem_capacity && back.offline_mem_budget == d.offline_mem_budget);
        CHECK(back.cpu_capacity_cores == d.cpu_capacity_cores && back.squeezed == d.squeezed);
        CHECK(strcmp(back.cgroup_root, d.cgroup_root) == 0 && strcmp(back.squeeze_reason, d.squeeze_reason) == 0);
        CHECK(back.n_workloads == d.n_workloads);
        for (size_t i = 0; i < d.n_workloads; i++)
                CHECK(workloads_equal(&back.workloads[i], &d.workloads[i]));
        free(json);
        status_doc_done(&back);
        status_doc_done(&d);
        return 0;
}
