/* kubelet's systemd-driver slices through systemd's D-Bus API: see kubelet-slices.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kubelet-slices.h"

#define SYSTEMD "org.freedesktop.systemd1"
#define MANAGER_PATH "/org/freedesktop/systemd1"
#define MANAGER SYSTEMD ".Manager"

static int failed(int r, const sd_bus_error *e, const char *what, const char *name, char *err, size_t err_size) {
        snprintf(err, err_size, "%s %s: %s", what, name, e->message ? e->message : strerror(-r));
        return r;
}

int kubelet_slice_start(sd_bus *bus, const char *name, uint64_t cpu_weight, char *err, size_t err_size) {
        char parent[256];
        const char *dash = strrchr(name, '-');
        /* kubepods-besteffort-pod<uid_>.slice is below kubepods-besteffort.slice; kubepods.slice
         * below the root slice, "-.slice". */
        snprintf(parent, sizeof(parent), "%.*s.slice", dash ? (int) (dash - name) : 1, dash ? name : "-");
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, SYSTEMD, MANAGER_PATH, MANAGER, "StartTransientUnit", &e, NULL, "ssa(sv)a(sa(sv))",
                                   name, "replace", 8, "Description", "s", "colo test: kubelet slice",
                                   "DefaultDependencies", "b", 0, "Wants", "as", 1, parent, "CPUAccounting", "b", 1,
                                   "MemoryAccounting", "b", 1, "IOAccounting", "b", 1, "TasksAccounting", "b", 1, "CPUWeight",
                                   "t", cpu_weight, 0);
        if (r < 0)
                r = failed(r, &e, "StartTransientUnit", name, err, err_size);
        sd_bus_error_free(&e);
        return r < 0 ? r : 0;
}

int kubelet_slice_property(sd_bus *bus, const char *name, const char *prop, uint64_t *ret, char *err, size_t err_size) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path = NULL;
        int r = sd_bus_call_method(bus, SYSTEMD, MANAGER_PATH, MANAGER, "GetUnit", &e, &reply, "s", name);
        if (r >= 0 && (r = sd_bus_message_read(reply, "o", &path)) >= 0)
                r = sd_bus_get_property_trivial(bus, SYSTEMD, path, SYSTEMD ".Slice", prop, &e, 't', ret);
        if (r < 0)
                r = failed(r, &e, prop, name, err, err_size);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&e);
        return r < 0 ? r : 0;
}
