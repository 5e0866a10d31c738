/* sd-bus calls to systemd (systemd-bus.h). Every reply is read by libsystemd's typed readers: a
 * property is one "t" (checked by sd_bus_get_property_trivial), the version one "s" bounded by
 * UNIT_NAME_MAX; nothing else of systemd's answers is parsed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "systemd/systemd-bus.h"
#include "util/macro.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define MANAGER_IFACE "org.freedesktop.systemd1.Manager"
#define SLICE_IFACE "org.freedesktop.systemd1.Slice"
#define UNIT_IFACE "org.freedesktop.systemd1.Unit"
#define JOB_IFACE "org.freedesktop.systemd1.Job"
/* How often and how long colo looks whether a start job it queued has run (systemd runs a
 * slice's or a scope's start at once: a few polls in practice). */
#define JOB_POLL_USEC (10 * USEC_PER_MSEC)
#define JOB_POLLS 200
/* systemd's first release with CPUWeight=idle (CGROUP_WEIGHT_IDLE). */
#define SYSTEMD_CPU_IDLE_VERSION 252

struct SystemdBus {
        sd_bus *bus;
};

int systemd_bus_open(SystemdBus **ret, ColoError *err) {
        SystemdBus *b = calloc(1, sizeof(*b));
        if (!b)
                return colo_error_set(err, ENOMEM, "systemd bus");
        int r = sd_bus_open_system(&b->bus);
        if (r < 0) {
                free(b);
                return colo_error_set(err, -r, "connect to the system bus");
        }
        r = sd_bus_set_method_call_timeout(b->bus, SYSTEMD_BUS_CALL_TIMEOUT_USEC);
        if (r < 0) {
                systemd_bus_free(b);
                return colo_error_set(err, -r, "system bus call timeout");
        }
        *ret = b;
        return 0;
}

SystemdBus *systemd_bus_free(SystemdBus *b) {
        if (!b)
                return NULL;
        sd_bus_flush_close_unref(b->bus);
        free(b);
        return NULL;
}

/* A D-Bus error as -errno: systemd's "no such unit" is -ENOENT, refused arguments -EINVAL. */
static int bus_error_code(const sd_bus_error *e, int r) {
        if (sd_bus_error_has_names(e, "org.freedesktop.systemd1.NoSuchUnit", "org.freedesktop.systemd1.LoadFailed"))
                return -ENOENT;
        if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.UnitExists"))
                return -EEXIST;
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_INVALID_ARGS))
                return -EINVAL;
        return r < 0 ? r : -EIO;
}

int systemd_unit_read(SystemdBus *b, const char *unit, unsigned mask, UnitProps *ret, ColoError *err) {
        char *path = NULL;
        int r = sd_bus_path_encode(SYSTEMD_PATH "/unit", unit, &path);
        if (r < 0)
                return colo_error_set(err, -r, "unit '%s': object path", unit);
        UnitProps got = {};
        for (int p = 0; p < _UNIT_PROP_MAX && r >= 0; p++) {
                if (!(mask & UNIT_PROP_BIT(p)))
                        continue;
                sd_bus_error e = SD_BUS_ERROR_NULL;
                uint64_t v = 0;
                r = sd_bus_get_property_trivial(b->bus, SYSTEMD_DEST, path, SLICE_IFACE, unit_prop_name(p), &e, 't', &v);
                if (r < 0) {
                        r = bus_error_code(&e, r);
                        colo_error_setf_plain(err, -r, "read %s of systemd unit '%s': %s", unit_prop_name(p), unit,
                                              e.message ? e.message : strerror(-r));
                } else {
                        got.mask |= UNIT_PROP_BIT(p);
                        got.value[p] = v;
                }
                sd_bus_error_free(&e);
        }
        free(path);
        if (r < 0)
                return r;
        *ret = got;
        return 0;
}

static int append_props(sd_bus_message *m, const UnitWant *want, unsigned mask) {
        int r = sd_bus_message_open_container(m, 'a', "(sv)");
        for (int p = 0; p < _UNIT_PROP_MAX && r >= 0; p++)
                if (mask & UNIT_PROP_BIT(p))
                        r = sd_bus_message_append(m, "(sv)", unit_prop_name(p), "t", unit_want_value(want, p));
        return r < 0 ? r : sd_bus_message_close_container(m);
}

int systemd_unit_set(SystemdBus *b, const char *unit, const UnitWant *want, unsigned mask, ColoError *err) {
        sd_bus_message *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_message_new_method_call(b->bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE, "SetUnitProperties");
        if (r >= 0)
                r = sd_bus_message_append(m, "sb", unit, 1);
        if (r >= 0)
                r = append_props(m, want, mask);
        if (r < 0) {
                sd_bus_message_unref(m);
                return colo_error_set(err, -r, "SetUnitProperties('%s'): build the call", unit);
        }
        r = sd_bus_call(b->bus, m, 0, &e, NULL);
        sd_bus_message_unref(m);
        if (r < 0) {
                r = bus_error_code(&e, r);
                colo_error_setf_plain(err, -r, "SetUnitProperties('%s'): %s", unit, e.message ? e.message : strerror(-r));
        }
        sd_bus_error_free(&e);
        return r < 0 ? r : 0;
}

bool systemd_supports_cpu_idle(SystemdBus *b) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char *version = NULL;
        int r = sd_bus_get_property_string(b->bus, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE, "Version", &e, &version);
        sd_bus_error_free(&e);
        if (r < 0)
                return false;
        /* "252.38-1~deb12u1", "v255", "256~rc3": the leading release number, bounded. */
        const char *s = version;
        if (*s == 'v')
                s++;
        long major = 0;
        for (int i = 0; i < 6 && *s >= '0' && *s <= '9'; i++, s++)
                major = major * 10 + (*s - '0');
        free(version);
        return major >= SYSTEMD_CPU_IDLE_VERSION;
}

int systemd_unit_active_state(SystemdBus *b, const char *unit, char *buf, size_t size, ColoError *err) {
        char *path = NULL, *state = NULL;
        int r = sd_bus_path_encode(SYSTEMD_PATH "/unit", unit, &path);
        if (r < 0)
                return colo_error_set(err, -r, "unit '%s': object path", unit);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        r = sd_bus_get_property_string(b->bus, SYSTEMD_DEST, path, UNIT_IFACE, "ActiveState", &e, &state);
        free(path);
        if (r < 0) {
                r = bus_error_code(&e, r);
                colo_error_setf_plain(err, -r, "read ActiveState of systemd unit '%s': %s", unit,
                                      e.message ? e.message : strerror(-r));
        } else {
                snprintf(buf, size, "%.32s", state);
        }
        sd_bus_error_free(&e);
        free(state);
        return r < 0 ? r : 0;
}

static int append_transient_props(sd_bus_message *m, const TransientProp *props, size_t n) {
        int r = sd_bus_message_open_container(m, 'a', "(sv)");
        for (size_t i = 0; i < n && r >= 0; i++) {
                const TransientProp *p = &props[i];
                if (p->type == 't')
                        r = sd_bus_message_append(m, "(sv)", p->name, "t", p->value);
                else if (p->type == 'b')
                        r = sd_bus_message_append(m, "(sv)", p->name, "b", (int) (p->value != 0));
                else if (p->type == 's')
                        r = sd_bus_message_append(m, "(sv)", p->name, "s", p->str);
                else if (p->type == 'u')
                        r = sd_bus_message_append(m, "(sv)", p->name, "au", 1, (uint32_t) p->value);
                else
                        r = -EINVAL;
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

/* Until the job at job_path has run: systemd removes a job's object when it is done. */
static int wait_job(SystemdBus *b, const char *unit, const char *job_path, ColoError *err) {
        for (int i = 0; i < JOB_POLLS; i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                char *state = NULL;
                int r = sd_bus_get_property_string(b->bus, SYSTEMD_DEST, job_path, JOB_IFACE, "State", &e, &state);
                bool gone = r < 0 && sd_bus_error_has_names(&e, SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_METHOD,
                                                             SD_BUS_ERROR_UNKNOWN_INTERFACE);
                sd_bus_error_free(&e);
                free(state);
                if (gone)
                        return 0;
                if (r < 0)
                        return colo_error_set(err, -r, "start job of systemd unit '%s' (%s)", unit, job_path);
                (void) nanosleep(&(struct timespec) { .tv_nsec = JOB_POLL_USEC * 1000 }, NULL);
        }
        return colo_error_setf_plain(err, ETIMEDOUT, "the start job of systemd unit '%s' (%s) has not run after %d ms",
                                     unit, job_path, (int) (JOB_POLLS * JOB_POLL_USEC / USEC_PER_MSEC));
}

int systemd_start_transient(SystemdBus *b, const char *unit, const TransientProp *props, size_t n, ColoError *err) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_message_new_method_call(b->bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE, "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = append_transient_props(m, props, n);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);   /* no auxiliary units */
        if (r < 0) {
                sd_bus_message_unref(m);
                return colo_error_set(err, -r, "StartTransientUnit('%s'): build the call", unit);
        }
        r = sd_bus_call(b->bus, m, 0, &e, &reply);
        sd_bus_message_unref(m);
        const char *job = NULL;
        if (r < 0) {
                r = bus_error_code(&e, r);
                colo_error_setf_plain(err, -r, "StartTransientUnit('%s'): %s", unit, e.message ? e.message : strerror(-r));
        } else if ((r = sd_bus_message_read(reply, "o", &job)) < 0) {
                colo_error_set(err, -r, "StartTransientUnit('%s'): read the job", unit);
        } else {
                r = wait_job(b, unit, job, err);
        }
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        if (r < 0)
                return r;
        char state[40];
        r = systemd_unit_active_state(b, unit, state, sizeof(state), err);
        if (r < 0)
                return r;
        if (strcmp(state, "active") != 0)
                return colo_error_setf_plain(err, EIO, "systemd unit '%s' is %s after its start job", unit, state);
        return 0;
}
