/* The node annotation colo.io/node-usage: what the node agent publishes about its node's load for
 * the scheduler extender, next to the extended resources it advertises in node status.
 *
 *   metadata.annotations["colo.io/node-usage"] =
 *     {"cpuCapacityMilli":8000,"memCapacity":33554432000,
 *      "cpuUsageMilli":2100,"cpuPeakMilli":3500,"memUsage":9663676416,"memPeak":12884901888,
 *      "offlineCpuMilli":3000,"offlineMemory":8589934592,
 *      "offlineCpuRequestedMilli":1500,"offlineMemoryRequested":4294967296,
 *      "updated":"2024-05-01T12:00:00Z"}
 *
 * cpuCapacityMilli, memCapacity: the node's allocatable CPU (millicores) and memory (bytes).
 * cpuUsageMilli, memUsage: current usage of everything that is not offline (online pods, system).
 * cpuPeakMilli, memPeak: the predicted peak of that usage over the prediction horizon.
 * offlineCpuMilli, offlineMemory: the offline budget the agent computes now; node status
 *   (colo.io/offline-cpu / colo.io/offline-memory) follows it with hysteresis, so it may lag.
 * offlineCpuRequestedMilli, offlineMemoryRequested: colo.io/offline-* requested by the offline
 *   pods bound to the node.
 * updated: when the agent measured this (RFC 3339, UTC); older data counts as missing.
 * All numbers are non-negative JSON integers; unknown keys are ignored, so later agents may add
 * fields. The first eight and "updated" are required. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define NODE_USAGE_ANNOTATION "colo.io/node-usage"
#define NODE_OFFLINE_CPU_RESOURCE "colo.io/offline-cpu"
#define NODE_OFFLINE_MEMORY_RESOURCE "colo.io/offline-memory"

/* Longest annotation value node_usage_parse() reads; real ones are ~350 bytes. */
#define NODE_USAGE_ANNOTATION_MAX 4096

typedef struct NodeUsage {
        int64_t cpu_capacity_milli;
        int64_t mem_capacity;
        int64_t cpu_usage_milli;
        int64_t cpu_peak_milli;
        int64_t mem_usage;
        int64_t mem_peak;
        int64_t offline_cpu_milli;
        int64_t offline_memory;
        int64_t offline_cpu_requested_milli;
        int64_t offline_memory_requested;
        uint64_t updated_usec;          /* CLOCK_REALTIME; published with whole seconds */
} NodeUsage;

/* Encodes u as the annotation value (compact JSON, malloc'd, NUL-terminated). -EINVAL on negative
 * fields. */
int node_usage_format(const NodeUsage *u, char **ret, ColoError *err);

/* Decodes an annotation value. -EINVAL with the offending key named; *ret untouched on failure. */
int node_usage_parse(const char *value, size_t size, NodeUsage *ret, ColoError *err);

/* True when u was measured at most max_age_usec before now_usec and not more than that in the
 * future (clock skew between nodes is tolerated up to the same bound). */
bool node_usage_is_fresh(const NodeUsage *u, uint64_t now_usec, uint64_t max_age_usec);

/* RFC 3339 helpers: "2024-05-01T12:00:00Z" (seconds, UTC) out; in, any offset and fraction. */
int rfc3339_format(uint64_t usec, char *buf, size_t size);
int rfc3339_parse(const char *s, uint64_t *ret_usec);
