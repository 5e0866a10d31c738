/* A node for `colo agent` in Kubernetes mode end to end, without root: kubelet's cgroup tree
 * (cgroupfs driver, cgroup v2) as plain files in a temporary directory, a fake API server, a
 * kubeconfig and a configuration, and the agent spawned on them with its log in <dir>/agent.log.
 * Used by test-k8s-agent.c and test-k8s-evict.c; every function fails the running cmocka test on
 * error. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fake-apiserver.h"

typedef struct K8sNode {
        char dir[64];                   /* /tmp/colo-test-k8s-XXXXXX */
        FakeApi *api;
        pid_t agent;
        /* Set before k8s_node_start_agent() for a real node (the VM): agent.cgroup_root_fs and
         * kubernetes.cgroup_driver; NULL: <dir>/fs and "cgroupfs". */
        const char *cgroup_fs, *cgroup_driver;
        /* More "  key: value\n" lines of the isolation section, or NULL. */
        const char *extra_isolation;
} K8sNode;

/* The directory, the fake API server (node node_name with the given allocatable) and kubepods
 * with its QoS cgroups. */
void k8s_node_init(K8sNode *n, const char *node_name, const char *cpu, const char *memory);
/* A pod cgroup kubelet has made: kubepods/<qos dir>/pod<uid> ("" for Guaranteed). */
void k8s_node_add_pod_cgroup(K8sNode *n, const char *qos_dir, const char *uid);
/* Writes the kubeconfig and colo.yaml (extra_agent: more "  key: value\n" lines of the agent
 * section; metrics_port 0: no metrics) and starts `colo_bin agent`. */
void k8s_node_start_agent(K8sNode *n, const char *colo_bin, const char *node_name, const char *extra_agent,
                          int metrics_port);
/* SIGTERM, and a failure unless the agent exits 0 within 5 s. */
void k8s_node_stop_agent(K8sNode *n);
/* Stops whatever runs and removes the directory. */
void k8s_node_done(K8sNode *n);

/* <dir>/rel, malloc'd, or NULL. */
char *k8s_node_read(const K8sNode *n, const char *rel);
void k8s_node_dump_log(const K8sNode *n);
/* A free TCP port on 127.0.0.1 (for the metrics endpoint). */
int k8s_node_free_port(void);
