/* Prometheus text exposition (format 0.0.4) of the agent's state, rendered from the last status
 * document and the agent's counters into one buffer, sized from the last page so a scrape
 * usually allocates once; /metrics hands the buffer to the response, so between scrapes the page
 * holds no memory. Every family has HELP and TYPE, values are in base units, counters end in
 * _total, durations are histograms. Label values come from closed sets (classes, tiers, states,
 * estimate sources) or are workload names, which are from [A-Za-z0-9_.-] and need no escaping;
 * a workload's series are rendered from the current status document, so they go with it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "cgroup/cgroup.h"
#include "util/macro.h"
#include "version.h"
#include "workloads/protections.h"

typedef struct Out {
        Agent *a;
        size_t len;
        bool oom;
} Out;

static void out_printf(Out *o, const char *fmt, ...) _printf_(2, 3);
static void out_printf(Out *o, const char *fmt, ...) {
        for (;;) {
                size_t avail = o->a->metrics_size - o->len;
                va_list ap;
                va_start(ap, fmt);
                int n = vsnprintf(o->a->metrics_text ? o->a->metrics_text + o->len : NULL, avail, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        o->oom = true;
                        return;
                }
                if ((size_t) n < avail) {
                        o->len += (size_t) n;
                        return;
                }
                size_t size = MAX(o->a->metrics_size * 2, o->len + (size_t) n + 4096);
                char *b = realloc(o->a->metrics_text, size);
                if (!b) {
                        o->oom = true;
                        return;
                }
                o->a->metrics_text = b;
                o->a->metrics_size = size;
        }
}

static void gauge(Out *o, const char *name, const char *help, double v) {
        out_printf(o, "# HELP %s %s\n# TYPE %s gauge\n%s %.9g\n", name, help, name, name, v);
}

static void counter(Out *o, const char *name, const char *help, uint64_t v) {
        out_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long) v);
}

/* Bucket bounds in seconds. Ticks take milliseconds (6 ms at 200 workloads); the reaction to a
 * memory-pressure event is meant to be well under 100 ms. */
static const double tick_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1 };
static const double reaction_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };

void agent_metrics_init(AgentMetrics *m) {
        prom_histogram_init(&m->tick_duration_seconds, tick_bounds, ELEMENTSOF(tick_bounds));
        prom_histogram_init(&m->reaction_seconds, reaction_bounds, ELEMENTSOF(reaction_bounds));
}

static void histogram(Out *o, const char *name, const char *help, const PromHistogram *h) {
        out_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
        for (size_t i = 0; i < h->n_bounds; i++)
                out_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i],
                           (unsigned long long) prom_histogram_cumulative(h, i));
        out_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
                   (unsigned long long) h->count, name, h->sum, name, (unsigned long long) h->count);
}

/* Where each resource's online peak estimate comes from, as a state set: one series per
 * (resource, source), 1 for the source in use. */
static void estimate_sources(Out *o, const Agent *a) {
        static const char *const name = "colo_online_peak_estimate_source";
        out_printf(o, "# HELP %s Where the online peak estimate of a resource comes from: the predictor, or the "
                      "recent maximum (no profiles, or the predictor still warming up); 1 for the source in use.\n"
                      "# TYPE %s gauge\n", name, name);
        const struct {
                const char *resource;
                bool predicted;
        } rs[] = { { "cpu", a->cpu_predicted }, { "memory", a->mem_predicted } };
        for (size_t i = 0; i < ELEMENTSOF(rs); i++)
                out_printf(o, "%s{resource=\"%s\",source=\"predictor\"} %d\n%s{resource=\"%s\",source=\"recent_max\"} %d\n",
                           name, rs[i].resource, rs[i].predicted ? 1 : 0, name, rs[i].resource, rs[i].predicted ? 0 : 1);
}

typedef double (*WorkloadValue)(const StatusWorkload *w);
static double w_cpu(const StatusWorkload *w) { return w->cpu_usage_cores; }
static double w_ws(const StatusWorkload *w) { return (double) w->mem_working_set; }
static double w_usage(const StatusWorkload *w) { return (double) w->mem_usage; }
static double w_tasks(const StatusWorkload *w) { return (double) w->nr_tasks; }

static void workload_gauge(Out *o, const StatusDoc *d, const char *name, const char *help, WorkloadValue value) {
        out_printf(o, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
        for (size_t i = 0; i < d->n_workloads; i++) {
                const StatusWorkload *w = &d->workloads[i];
                out_printf(o, "%s{name=\"%s\",class=\"%s\",tier=\"%s\"} %.9g\n", name, w->name,
                           workload_class_to_string(w->cls), workload_tier_to_string(w->tier), value(w));
        }
}

/* The node's capacity, usage, budgets and estimate, from the status document. */
static void render_node(Out *o, const Agent *a, const StatusDoc *d) {
        out_printf(o, "# HELP colo_build_info The colo version and commit this agent was built from; always 1.\n"
                       "# TYPE colo_build_info gauge\ncolo_build_info{version=\"%s\",commit=\"%s\"} 1\n",
                   COLO_VERSION, COLO_COMMIT);
        gauge(o, "colo_node_cpu_capacity_cores", "CPUs colo manages.", d->cpu_capacity_cores);
        gauge(o, "colo_node_memory_capacity_bytes", "Memory colo manages (MemTotal or the managed root's limit).",
              (double) d->mem_capacity);
        gauge(o, "colo_node_memory_available_bytes", "MemAvailable.", (double) d->mem_available);
        gauge(o, "colo_online_cpu_usage_cores", "CPU used by online workloads.", d->online_cpu_usage_cores);
        gauge(o, "colo_online_memory_working_set_bytes", "Working set of online workloads.",
              (double) d->online_mem_working_set);
        gauge(o, "colo_offline_cpu_usage_cores", "CPU used by offline workloads.", d->offline_cpu_usage_cores);
        gauge(o, "colo_offline_memory_working_set_bytes", "Working set of offline workloads.",
              (double) d->offline_mem_working_set);
        gauge(o, "colo_offline_cpu_budget_cores",
              "Offline CPU budget (capacity - reserved - online peak - margin); the offline parent's CPU quota when enforced.",
              d->offline_cpu_budget_cores);
        gauge(o, "colo_offline_cpu_quota_enforced", "1 when the offline CPU budget is applied as a CFS quota.",
              d->offline_cpu_quota_enforced > 0 ? 1.0 : 0.0);
        gauge(o, "colo_offline_memory_budget_bytes", "Memory limit of the offline parent.", (double) d->offline_mem_budget);
        gauge(o, "colo_online_predicted_peak_cpu_cores",
              "Online CPU peak the budget is computed from (predicted, or the recent maximum).", d->online_estimate_cpu_cores);
        gauge(o, "colo_online_predicted_peak_memory_bytes",
              "Online memory peak the budget is computed from (predicted, or the recent maximum).",
              (double) d->online_estimate_mem_bytes);
        estimate_sources(o, a);
        gauge(o, "colo_squeezed", "1 while offline work is squeezed under memory pressure.", d->squeezed ? 1 : 0);

}

/* The CPU interference controller, from the policy state: its cap (the capacity when it does
 * not cap), its phase as a state set, what it measured and how often it stepped. */
static void render_cpu_controller(Out *o, const Agent *a) {
        const CpuControlState *cc = &a->policy_state.cpu_control;
        gauge(o, "colo_cpu_controller_quota_cores",
              "Offline CPU cap of the CPU interference controller; the node's CPU capacity when it does not cap.",
              cc->limiting ? cc->limit_cores : a->status.cpu_capacity_cores);
        out_printf(o, "# HELP colo_cpu_controller_state Phase of the CPU interference controller in the last period "
                      "(the label); 1 for the current one.\n# TYPE colo_cpu_controller_state gauge\n");
        for (CpuControlPhase p = 0; p < _CPU_CONTROL_PHASE_MAX; p++)
                out_printf(o, "colo_cpu_controller_state{state=\"%s\"} %d\n", cpu_control_phase_to_string(p),
                           cc->phase == p ? 1 : 0);
        out_printf(o, "# HELP colo_cpu_controller_online_pressure_ratio Online pressure the controller measured over "
                      "the last sample interval (PSI some, 0..1; throttled: share of CFS periods); absent inputs "
                      "are not listed.\n# TYPE colo_cpu_controller_online_pressure_ratio gauge\n");
        const struct {
                const char *input;
                double percent;
        } in[] = { { "cpu", cc->cpu_pressure }, { "io", cc->io_pressure }, { "throttled", cc->throttled } };
        for (size_t i = 0; i < ELEMENTSOF(in); i++)
                if (in[i].percent >= 0.0)
                        out_printf(o, "colo_cpu_controller_online_pressure_ratio{input=\"%s\"} %.9g\n", in[i].input,
                                   in[i].percent / 100.0);
        gauge(o, "colo_cpu_controller_cpu_target_ratio",
              "Online CPU pressure above which the controller caps offline CPU, in the last decision (0..1): "
              "isolation.cpu_pressure_target plus the online pressure learned at the floor as online's own, while "
              "it counts (isolation.cpu_pressure_own_hold).",
              cc->cpu_target / 100.0);
        out_printf(o, "# HELP colo_cpu_controller_steps_total Steps of the offline CPU cap, by direction.\n"
                      "# TYPE colo_cpu_controller_steps_total counter\n"
                      "colo_cpu_controller_steps_total{direction=\"down\"} %llu\n"
                      "colo_cpu_controller_steps_total{direction=\"up\"} %llu\n",
                   (unsigned long long) cc->steps_down, (unsigned long long) cc->steps_up);
        counter(o, "colo_cpu_controller_evictions_total",
                "Offline workloads evicted because squeezing to the floor did not lower online pressure.", cc->evictions);
}

/* Which controllers colo can use in the managed root, and so whether isolation is in force: all
 * from the protections checked once at start (a->status), so colo_isolation_in_force (kept: the
 * dashboards and docs use it) always agrees with colo_protection_in_force's cpu and memory. */
static void render_isolation(Out *o, const Agent *a) {
        gauge(o, "colo_isolation_in_force",
              "0 when a controller colo protects online work with (cpu, memory) is missing from the managed root.",
              a->status.isolation_in_force ? 1.0 : 0.0);
        out_printf(o, "# HELP colo_cgroup_controller_available 1 when the managed root has the controller, 0 when "
                       "colo cannot use it (cgroup v2: not delegated or not enabled; the log says why).\n"
                       "# TYPE colo_cgroup_controller_available gauge\n");
        static const char *const controllers[] = { "cpu", "memory", "io" };
        for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
                out_printf(o, "colo_cgroup_controller_available{controller=\"%s\"} %d\n", controllers[i],
                           protections_in_force(&a->status, controllers[i]));
        out_printf(o, "# HELP colo_protection_in_force 1 when colo can put the protection (a controller, or a knob "
                       "such as cpu.idle) in force on this node, 0 when not (the log and `colo status` say why).\n"
                       "# TYPE colo_protection_in_force gauge\n");
        for (size_t i = 0; i < a->status.n_protections; i++)
                out_printf(o, "colo_protection_in_force{protection=\"%s\"} %d\n", a->status.protections[i].name,
                           a->status.protections[i].in_force);
}

static void render_workloads(Out *o, const StatusDoc *d) {
        workload_gauge(o, d, "colo_workload_cpu_usage_cores", "CPU used by a workload.", w_cpu);
        workload_gauge(o, d, "colo_workload_memory_working_set_bytes", "Working set of a workload.", w_ws);
        workload_gauge(o, d, "colo_workload_memory_usage_bytes", "Memory charged to a workload.", w_usage);
        workload_gauge(o, d, "colo_workload_tasks", "Processes of a workload.", w_tasks);
        out_printf(o, "# HELP colo_workload_state A workload's state (the label); always 1.\n"
                       "# TYPE colo_workload_state gauge\n");
        for (size_t i = 0; i < d->n_workloads; i++) {
                const StatusWorkload *w = &d->workloads[i];
                out_printf(o, "colo_workload_state{name=\"%s\",class=\"%s\",tier=\"%s\",state=\"%s\"} 1\n", w->name,
                           workload_class_to_string(w->cls), workload_tier_to_string(w->tier),
                           workload_state_to_string(w->state));
        }
}

/* The agent's own counters and histograms. */
static void render_agent(Out *o, const Agent *a) {
        const AgentMetrics *m = &a->metrics;
        out_printf(o, "# HELP colo_evictions_total Offline workloads evicted, by tier.\n# TYPE colo_evictions_total counter\n");
        for (int t = 0; t < _TIER_MAX; t++)
                if (workload_tier_class((WorkloadTier) t) == CLASS_OFFLINE)
                        out_printf(o, "colo_evictions_total{tier=\"%s\"} %llu\n", workload_tier_to_string((WorkloadTier) t),
                                   (unsigned long long) m->evictions_total[t]);
        if (a->k8s)
                out_printf(o, "# HELP colo_k8s_eviction_answers_total Answers of the Eviction API, by what colo made of "
                               "them.\n# TYPE colo_k8s_eviction_answers_total counter\n"
                               "colo_k8s_eviction_answers_total{result=\"accepted\"} %llu\n"
                               "colo_k8s_eviction_answers_total{result=\"blocked\"} %llu\n"
                               "colo_k8s_eviction_answers_total{result=\"conflict\"} %llu\n"
                               "colo_k8s_eviction_answers_total{result=\"replaced\"} %llu\n"
                               "colo_k8s_eviction_answers_total{result=\"gone\"} %llu\n"
                               "colo_k8s_eviction_answers_total{result=\"error\"} %llu\n",
                           (unsigned long long) m->k8s_evictions_accepted_total,
                           (unsigned long long) m->k8s_evictions_blocked_total,
                           (unsigned long long) m->k8s_eviction_conflicts_total,
                           (unsigned long long) m->k8s_evictions_replaced_total,
                           (unsigned long long) m->k8s_evictions_gone_total,
                           (unsigned long long) m->k8s_eviction_errors_total);
        counter(o, "colo_cgroup_write_failures_total", "cgroup writes that failed.", m->write_failures_total);
        counter(o, "colo_systemd_property_restores_total",
                "Unit properties colo owns on systemd's slices that systemd no longer held, set again.",
                m->systemd_restores_total);
        counter(o, "colo_systemd_property_failures_total", "SetUnitProperties calls to systemd that failed.",
                m->systemd_failures_total);
        out_printf(o, "# HELP colo_cgroup_knob_restored_total Knobs colo owns found changed behind its back and "
                       "written again, by file.\n# TYPE colo_cgroup_knob_restored_total counter\n");
        for (size_t i = 0; i < m->n_knob_restored; i++)
                out_printf(o, "colo_cgroup_knob_restored_total{file=\"%s\"} %llu\n", m->knob_restored[i].file,
                           (unsigned long long) m->knob_restored[i].total);
        counter(o, "colo_ticks_total", "Control periods run (periodic and event-driven).", m->ticks_total);
        counter(o, "colo_tick_failures_total", "Control periods that failed.", m->tick_failures_total);
        histogram(o, "colo_tick_duration_seconds", "Duration of a control period.", &m->tick_duration_seconds);
        counter(o, "colo_fast_reaction_events_total", "PSI triggers and memory events received.", m->fast_events_total);
        histogram(o, "colo_reaction_seconds", "From a fast-reaction event (PSI trigger, memory event) to the offline budget written.",
                  &m->reaction_seconds);
        out_printf(o, "# HELP colo_config_reloads_total Configuration reloads (SIGHUP), by result.\n"
                       "# TYPE colo_config_reloads_total counter\n"
                       "colo_config_reloads_total{result=\"ok\"} %llu\ncolo_config_reloads_total{result=\"failed\"} %llu\n",
                   (unsigned long long) m->reloads_total, (unsigned long long) m->reload_failures_total);
        gauge(o, "colo_agent_dry_run", "1 when the agent decides but writes nothing.", a->opts.dry_run ? 1 : 0);
}

int agent_render_metrics(Agent *a) {
        Out o = { .a = a };

        if (!a->metrics_text && a->metrics_last_len > 0) {
                /* A little room to grow; out_printf() reallocates if the page grew more. */
                size_t size = a->metrics_last_len + a->metrics_last_len / 8 + 4096;
                a->metrics_text = malloc(size);
                a->metrics_size = a->metrics_text ? size : 0;
        }
        render_node(&o, a, &a->status);
        render_isolation(&o, a);
        render_cpu_controller(&o, a);
        render_workloads(&o, &a->status);
        render_agent(&o, a);
        if (o.oom)
                return -ENOMEM;
        a->metrics_last_len = o.len;
        return (int) o.len;
}
