/* Shared only by the enforce .c files: describing a knob diff without writing it (dry run). */
#pragma once

#include <stdbool.h>

#include "cgroup/cgroup.h"

typedef struct EnforceChange {
        CgController controller;
        const char *file;               /* as the cgroup layer names it for the root's version */
        bool optional;                  /* the kernel may lack the file; skipped quietly then */
        char value[192];
} EnforceChange;

/* Whether the group has an optional file; the dry run answers from an open group, or true. */
typedef bool (*EnforceHasFile)(void *userdata, CgController c, const char *file);
typedef void (*EnforceChangeFn)(void *userdata, const EnforceChange *change);

/* Calls fn for each write the cgroup layer would make to bring last to want in mode (V1 or V2):
 * set knobs that differ, with the file names and value formats of that version, knobs the
 * version ignores left out. Pure apart from the callbacks. */
void enforce_describe_changes(CgMode mode, const CgKnobs *want, const CgKnobs *last, EnforceHasFile has_file,
                              EnforceChangeFn fn, void *userdata);

/* Records in last every knob want sets, as a fully successful apply would. */
void enforce_knobs_record(const CgKnobs *want, CgKnobs *last);
