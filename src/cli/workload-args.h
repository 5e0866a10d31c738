/* What `colo run` and `colo move` share: --class, --tier and the session options (--config,
 * --subtree, --state-dir), and turning --class/--tier into a class and tier. */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include "model/workload.h"
#include "workloads/session.h"

/* getopt codes of the shared long options without a short form. */
enum {
        WORKLOAD_OPT_CONFIG = 0x100,
        WORKLOAD_OPT_SUBTREE,
        WORKLOAD_OPT_STATE_DIR,
};

/* The shared entries of a command's `struct option` table; its short options include "c:t:". */
#define WORKLOAD_LONG_OPTIONS                                                 \
        { "class", required_argument, NULL, 'c' },                            \
        { "tier", required_argument, NULL, 't' },                             \
        { "config", required_argument, NULL, WORKLOAD_OPT_CONFIG },           \
        { "subtree", required_argument, NULL, WORKLOAD_OPT_SUBTREE },         \
        { "state-dir", required_argument, NULL, WORKLOAD_OPT_STATE_DIR }

typedef struct WorkloadArgs {
        const char *class_arg, *tier_arg;
        SessionOptions session;
} WorkloadArgs;

/* Stores getopt's code c with argument arg. Returns true when c is a shared option. */
bool workload_args_take(WorkloadArgs *a, int c, const char *arg);

/* After getopt: --class is required and --tier must be one of its tiers (default: the class's
 * default tier). On bad input, prints "colo VERB: ..." to stderr and returns -EINVAL. */
int workload_args_placement(const WorkloadArgs *a, const char *verb, WorkloadClass *ret_class,
                            WorkloadTier *ret_tier);
