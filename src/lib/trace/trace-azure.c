/* Azure Public Dataset V1 VM CPU readings: `timestamp,vm id,min cpu,max cpu,avg cpu`, time-ordered.
 * Readings of one timestamp are summed per node as they arrive; when the timestamp advances the
 * previous one is complete and each complete node's sum goes to its resampler. Only nodes with a
 * missing VM reading look at their members, so a timestamp costs O(nodes), a row O(1). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace-internal.h"

struct AzureState {
        IdMap vms;                      /* VM id -> index, in order of first appearance */
        uint64_t *vm_last_t;            /* per VM: time of its last reading */
        double *vm_last_usage;          /* per VM: that reading / 100 */
        size_t vms_cap;

        double *node_sum;               /* per node slot: usage summed over this timestamp's readings */
        uint32_t *node_count;           /* per node slot: readings at this timestamp */
        size_t node_slots_cap;

        bool have_t;
        uint64_t current_t;
};

AzureState *trace_azure_free(AzureState *a) {
        if (!a)
                return NULL;
        id_map_done(&a->vms);
        free(a->vm_last_t);
        free(a->vm_last_usage);
        free(a->node_sum);
        free(a->node_count);
        free(a);
        return NULL;
}

static int resize(void **p, size_t n, size_t elem) {
        void *q = realloc(*p, n * elem);
        if (!q)
                return -ENOMEM;
        *p = q;
        return 0;
}

static int ensure_vm_capacity(AzureState *a, size_t need) {
        if (need <= a->vms_cap)
                return 0;
        size_t n = MAX(a->vms_cap * 2, MAX(need, (size_t) 64));
        if (resize((void **) &a->vm_last_t, n, sizeof(uint64_t)) < 0 ||
            resize((void **) &a->vm_last_usage, n, sizeof(double)) < 0)
                return -ENOMEM;
        a->vms_cap = n;
        return 0;
}

/* Node slots include the incomplete last node; new ones start at zero. */
static int ensure_node_slots(AzureState *a, size_t need) {
        if (need <= a->node_slots_cap)
                return 0;
        size_t old = a->node_slots_cap, n = MAX(old * 2, MAX(need, (size_t) 64));
        if (resize((void **) &a->node_sum, n, sizeof(double)) < 0 ||
            resize((void **) &a->node_count, n, sizeof(uint32_t)) < 0)
                return -ENOMEM;
        memset(a->node_sum + old, 0, (n - old) * sizeof(double));
        memset(a->node_count + old, 0, (n - old) * sizeof(uint32_t));
        a->node_slots_cap = n;
        return 0;
}

/* The readings of timestamp t are all in: sum each complete node and resample it. */
static int finalize_timestamp(TraceReader *r, uint64_t t) {
        AzureState *a = r->azure;
        size_t k = r->opt.node_size, complete = a->vms.n_names / k;
        uint64_t carry_limit = (uint64_t) r->opt.max_gap_steps * r->opt.step_sec;
        int ret;

        while (r->n_nodes < complete) {
                char name[32];
                snprintf(name, sizeof(name), "node%zu", r->n_nodes);
                int64_t n = trace_add_node(r, name, (double) k);
                if (n < 0)
                        return (int) n;
        }
        for (size_t n = 0; n < complete; n++) {
                double sum = a->node_sum[n];
                if (a->node_count[n] < k)
                        for (size_t j = n * k; j < (n + 1) * k; j++) {
                                if (a->vm_last_t[j] == t)
                                        continue;
                                if (t - a->vm_last_t[j] <= carry_limit) {
                                        sum += a->vm_last_usage[j];
                                        r->stats.vm_readings_carried++;
                                } else
                                        r->stats.vm_readings_absent++;
                        }
                ret = trace_resample_push(r, n, t, sum);
                if (ret < 0)
                        return ret;
        }
        size_t slots = (a->vms.n_names + k - 1) / k;
        memset(a->node_sum, 0, slots * sizeof(double));
        memset(a->node_count, 0, slots * sizeof(uint32_t));
        return 0;
}

int trace_azure_row(TraceReader *r, char **fields, size_t n_fields) {
        TraceRowError kind;
        uint64_t t;
        double value;
        int ret;

        if (n_fields != AZURE_FIELDS) {
                trace_count_malformed(r, TRACE_ROW_FIELD_COUNT);
                return 0;
        }
        if (trace_parse_seconds(fields[0], &t) < 0) {
                trace_count_malformed(r, TRACE_ROW_BAD_TIMESTAMP);
                return 0;
        }
        if (fields[1][0] == '\0') {
                trace_count_malformed(r, TRACE_ROW_BAD_ID);
                return 0;
        }
        /* min cpu (fields[2]) is not used and may be empty. */
        if (trace_parse_percent(fields[r->opt.signal == TRACE_SIGNAL_AVG ? 4 : 3], &value, &kind) < 0) {
                trace_count_malformed(r, kind);
                return 0;
        }
        if (value < 0 || value > 100) {
                trace_count_malformed(r, TRACE_ROW_OUT_OF_RANGE);
                return 0;
        }

        if (!r->azure) {
                r->azure = calloc(1, sizeof(AzureState));
                if (!r->azure)
                        return -ENOMEM;
        }
        AzureState *a = r->azure;
        if (a->have_t && t < a->current_t) {
                trace_count_malformed(r, TRACE_ROW_OUT_OF_ORDER);
                return 0;
        }
        if (a->have_t && t > a->current_t) {
                ret = finalize_timestamp(r, a->current_t);
                if (ret < 0)
                        return ret;
        }
        a->have_t = true;
        a->current_t = t;

        size_t vm;
        ret = id_map_intern(&a->vms, fields[1], &vm);
        if (ret < 0)
                return ret;
        if (ret == 0 && a->vm_last_t[vm] == t) {
                trace_count_malformed(r, TRACE_ROW_DUPLICATE);
                return 0;
        }
        if (ensure_vm_capacity(a, vm + 1) < 0 || ensure_node_slots(a, vm / r->opt.node_size + 1) < 0)
                return -ENOMEM;
        a->vm_last_t[vm] = t;
        a->vm_last_usage[vm] = value / 100.0;
        a->node_sum[vm / r->opt.node_size] += value / 100.0;
        a->node_count[vm / r->opt.node_size]++;
        r->stats.rows++;
        return 0;
}

int trace_azure_finish(TraceReader *r, ColoError *err) {
        AzureState *a = r->azure;
        int ret;

        if (!a)
                return 0;
        if (a->have_t) {
                ret = finalize_timestamp(r, a->current_t);
                if (ret < 0)
                        return colo_error_set(err, -ret, "'%s'", r->name);
        }
        for (size_t n = 0; n < r->n_nodes; n++) {
                ret = trace_resample_flush(r, n);
                if (ret < 0)
                        return colo_error_set(err, -ret, "'%s'", r->name);
        }
        r->stats.sources = a->vms.n_names;
        r->stats.sources_dropped = a->vms.n_names % r->opt.node_size;
        if (r->n_nodes == 0)
                return colo_error_setf_plain(err, EBADMSG, "'%s': %zu VMs, fewer than one node of %zu", r->name,
                                             a->vms.n_names, r->opt.node_size);
        return 0;
}

const char *trace_azure_member(const TraceReader *r, size_t node, size_t i) {
        if (!r->azure || i >= r->opt.node_size)
                return NULL;
        size_t vm = node * r->opt.node_size + i;
        return vm < r->azure->vms.n_names ? r->azure->vms.names[vm] : NULL;
}
