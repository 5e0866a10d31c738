/* The agent's event loop on sd-event: SIGHUP reloads, SIGTERM/SIGINT exit, a period timer ticks
 * every agent.period, and a one-shot defer source runs an immediate tick when an event (PSI
 * trigger, memory event) arrives; however many events arrive before it runs, they cost one tick.
 * sd-event also sends WATCHDOG=1 on its own when systemd set WatchdogSec. */
#include <signal.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "agent/agent.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

/* Slack granted to the period timer, so the kernel can batch wake-ups. */
#define PERIOD_ACCURACY_USEC (10 * USEC_PER_MSEC)

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Agent *a = userdata;
        (void) s;
        switch (si->ssi_signo) {
        case SIGHUP:
                a->reload(a);
                break;
        case SIGTERM:
        case SIGINT:
                log_info("Received %s, exiting; cgroups are left as they are.", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                (void) sd_notify(0, "STOPPING=1");
                return sd_event_exit(a->event, 0);
        }
        return 0;
}

static void run_tick(Agent *a) {
        int r = a->tick(a);
        if (r < 0)
                a->metrics.tick_failures_total++;
}

static int on_period(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        (void) s;
        (void) usec;
        run_tick(a);
        int r = agent_arm_period(a);
        if (r < 0) {
                log_error("Failed to re-arm the period timer: %s", strerror(-r));
                return sd_event_exit(a->event, 1);
        }
        return 0;
}

static int on_tick_now(sd_event_source *s, void *userdata) {
        (void) s;
        run_tick(userdata);
        return 0;
}

int agent_arm_period(Agent *a) {
        uint64_t now;
        int r = sd_event_now(a->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        uint64_t next = now + a->config.agent.period_usec;
        if (!a->tick_timer) {
                r = sd_event_add_time(a->event, &a->tick_timer, CLOCK_MONOTONIC, next, PERIOD_ACCURACY_USEC, on_period, a);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(a->tick_timer, "period-tick");
                return 0;
        }
        r = sd_event_source_set_time(a->tick_timer, next);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(a->tick_timer, SD_EVENT_ONESHOT);
}

void agent_request_tick(Agent *a, uint64_t event_usec) {
        if (a->pending_event_usec == 0)
                a->pending_event_usec = event_usec;
        a->metrics.fast_events_total++;
        int r = sd_event_source_set_enabled(a->tick_now, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning("Failed to schedule an immediate tick: %s, ignoring.", strerror(-r));
}

int agent_loop_setup(Agent *a) {
        static const int sigs[] = { SIGHUP, SIGTERM, SIGINT };
        sigset_t mask;
        int r;

        r = sd_event_new(&a->event);
        if (r < 0)
                return r;
        /* sd-event wants the signals blocked before it adds them; SIGPIPE: a closed HTTP peer
         * must not kill the agent. */
        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&mask, sigs[i]);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        (void) signal(SIGPIPE, SIG_IGN);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                r = sd_event_add_signal(a->event, &a->signals[i], sigs[i], on_signal, a);
                if (r < 0)
                        return r;
                /* Above everything else: a stream of events must never keep SIGTERM waiting. */
                (void) sd_event_source_set_priority(a->signals[i], SD_EVENT_PRIORITY_IMPORTANT - 10);
        }
        r = sd_event_add_defer(a->event, &a->tick_now, on_tick_now, a);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(a->tick_now, "immediate-tick");
        /* Ticks go first among pending events: the reaction time is what this agent is for. */
        (void) sd_event_source_set_priority(a->tick_now, SD_EVENT_PRIORITY_IMPORTANT);
        r = sd_event_source_set_enabled(a->tick_now, SD_EVENT_ONESHOT);   /* the first tick, at once */
        if (r < 0)
                return r;
        r = agent_arm_period(a);
        if (r < 0)
                return r;
        return sd_event_set_watchdog(a->event, true);
}

int agent_run(Agent *a) {
        int r = sd_event_loop(a->event);
        if (r < 0) {
                log_error("Event loop failed: %s", strerror(-r));
                return 1;
        }
        return r;
}
