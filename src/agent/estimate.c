/* The agent's side of the online peak estimate: the usage profiles (predict/profile-set.h, built
 * from prediction.*, checkpointed so a restart stays calibrated) observe every period, and the
 * pure estimate_choose() (predict/estimate.h) decides between their answer and the recent peak. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "predict/checkpoint.h"
#include "predict/profile-set.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

/* --- the predictor path: usage profiles and the node predictor (predict/profile-set.h) --- */

static void profile_config_from(const Config *c, ProfileSetConfig *ret) {
        profile_set_config_init_defaults(ret);
        ret->predictor_spec = c->prediction.predictor;
        ret->params.horizon_usec = c->prediction.horizon_usec;
        ret->params.colo_quantile = c->prediction.cpu_quantile;
        ret->mem_colo_quantile = c->prediction.memory_quantile;
        ret->half_life_usec = c->prediction.half_life_usec;
        ret->min_history_usec = c->prediction.min_history_usec;
}

static int on_checkpoint(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        agent_profiles_save(a);
        (void) sd_event_source_set_time(s, usec + a->config.prediction.checkpoint_interval_usec);
        return 0;
}

/* When the checkpoint was last saved: its modification time (write_file_atomic() renames a fresh
 * file into place), or 0 when there is none to go by. */
static uint64_t checkpoint_saved_usec(const char *path) {
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                return 0;
        return (uint64_t) st.st_mtim.tv_sec * USEC_PER_SEC + (uint64_t) st.st_mtim.tv_nsec / NSEC_PER_USEC;
}

int agent_profiles_start(Agent *a) {
        ProfileSetConfig pc;
        ColoError err = {};

        a->profiles = profile_set_free(a->profiles);
        a->checkpoint_timer = sd_event_source_disable_unref(a->checkpoint_timer);
        profile_config_from(&a->config, &pc);
        int r = profile_set_new(&pc, &a->profiles, &err);
        if (r < 0) {
                log_warning("Cannot start the usage profiles (%s); the online estimate stays the recent maximum.",
                            colo_error_msg(&err));
                return r;
        }
        const char *path = a->config.prediction.checkpoint_path;
        if (!path[0])
                return 0;
        /* Temporary files of checkpoint writes a crash (kill -9, power loss) interrupted. */
        r = remove_stale_temp_files(path, &err);
        if (r > 0)
                log_info("Removed %d temporary file(s) of interrupted checkpoint writes next to '%s'.", r, path);
        else if (r < 0 && r != -ENOENT)
                log_warning("Failed to remove stale checkpoint temporaries: %s, ignoring.", colo_error_msg(&err));
        colo_error_clear(&err);
        r = profile_set_load(a->profiles, path, &err);
        if (r >= 0)
                log_info("Loaded usage profiles from '%s' (%zu workloads).", path, profile_set_workload_count(a->profiles));
        else if (r == -ENOENT)
                log_debug("No usage profile checkpoint at '%s' yet.", path);
        else
                log_warning("Ignoring the usage profile checkpoint: %s; starting cold.", colo_error_msg(&err));
        if (!a->opts.dry_run) {
                uint64_t delay = checkpoint_save_delay_usec(checkpoint_saved_usec(path), now_realtime_usec(),
                                                            a->config.prediction.checkpoint_interval_usec,
                                                            a->config.agent.period_usec);
                log_debug("Next profile checkpoint in %.1fs.", (double) delay / USEC_PER_SEC);
                r = sd_event_add_time_relative(a->event, &a->checkpoint_timer, CLOCK_MONOTONIC, delay, USEC_PER_SEC / 10,
                                               on_checkpoint, a);
                if (r < 0)
                        log_warning("Cannot schedule profile checkpoints: %s", strerror(-r));
                else
                        (void) sd_event_source_set_enabled(a->checkpoint_timer, SD_EVENT_ON);
        }
        return 0;
}

void agent_profiles_save(Agent *a) {
        const char *path = a->config.prediction.checkpoint_path;
        if (!a->profiles || !path[0] || a->opts.dry_run)
                return;
        char dir[sizeof(a->config.prediction.checkpoint_path)];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                (void) mkdir(dir, 0755);        /* /var/lib/colo on a fresh node; deeper paths must exist */
        }
        ColoError err = {};
        if (profile_set_save(a->profiles, path, &err) < 0)
                log_warning("Failed to save the usage profiles: %s, ignoring.", colo_error_msg(&err));
        else
                log_debug("Saved usage profiles to '%s'.", path);
}

/* Every online workload, every period, goes to the profiles (they forget the ones left out);
 * fills *ret with their answer. false when they rejected the sample (logged). */
static bool profiles_answer(Agent *a, const NodeSample *s, PredictorAnswer *ret) {
        size_t n = 0;
        if (a->profile_samples_cap < s->n_workloads) {
                ProfileSample *p = realloc(a->profile_samples, s->n_workloads * sizeof(*p));
                if (!p)
                        return false;
                a->profile_samples = p;
                a->profile_samples_cap = s->n_workloads;
        }
        for (size_t i = 0; i < s->n_workloads; i++) {
                const WorkloadSample *w = &s->workloads[i];
                if (w->cls != CLASS_ONLINE)
                        continue;
                /* An interrupted move lists a name twice: profile it once. */
                if (n > 0 && strcmp(a->profile_samples[n - 1].name, w->name) == 0)
                        continue;
                a->profile_samples[n++] = (ProfileSample) {
                        .name = w->name,
                        .cpu = w->cpu_usage_cores,
                        .mem = w->mem_working_set,
                        .cpu_limit = w->cpu_limit_cores,
                        .mem_limit = w->mem_limit,
                };
        }
        uint64_t realtime = now_realtime_usec();
        ColoError err = {};
        int r = profile_set_observe(a->profiles, realtime, a->profile_samples, n, s->online_cpu_usage,
                                    s->online_mem_working_set, &err);
        if (r < 0) {
                log_warning("Usage profiles rejected this period's sample: %s", colo_error_msg(&err));
                return false;
        }
        ProfileEstimate pe;
        profile_set_estimate(a->profiles, realtime, s->cpu_capacity_cores, s->mem_capacity, &pe);
        a->predicted.cpu_cores = pe.cpu_peak;
        a->predicted.mem_bytes = pe.mem_peak;
        *ret = (PredictorAnswer) { .cpu_peak = pe.cpu_peak, .cpu_predicted = pe.cpu_predicted, .cpu_limit = pe.cpu_limit,
                                   .mem_peak = pe.mem_peak, .mem_predicted = pe.mem_predicted, .mem_limit = pe.mem_limit };
        return true;
}

/* The online estimate for this period: the profiles observe the sample, and estimate_choose()
 * (predict/estimate.h) picks per resource between their answer and the recent peak. */
void agent_estimate(Agent *a, const NodeSample *s, uint64_t now_usec) {
        recent_peak_push(&a->recent_peak, now_usec, s->online_cpu_usage, s->online_mem_working_set);
        PeakEstimate recent = recent_peak_get(&a->recent_peak, now_usec);
        PredictorAnswer answer;
        bool answered = a->profiles && profiles_answer(a, s, &answer);
        EstimateChoice c;
        estimate_choose(&recent, answered ? &answer : NULL, a->config.prediction.predictor, &c);
        a->estimate = (OnlineEstimate) { .cpu_cores = c.estimate.cpu_cores, .mem_bytes = c.estimate.mem_bytes };
        a->cpu_predicted = c.cpu_predicted;
        a->mem_predicted = c.mem_predicted;
        a->has_predicted_peak = c.cpu_predicted || c.mem_predicted;
        snprintf(a->estimate_source, sizeof(a->estimate_source), "%s", c.source);
}
