/* Unit tests of src/lib/config: every key parsed, every kind of error located and harmless, the
 * duration and size syntax at its edges, and deploy/colo.yaml and docs/config.md kept in step
 * with the key table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config-internal.h"
#include "config/config.h"
#include "predict/predictor.h"
#include "util/fileio.h"
#include "util/macro.h"

static int parse(const char *yaml, Config *c, ColoError *err) {
        return config_parse_yaml(yaml, strlen(yaml), "colo.yaml", c, err);
}

/* One YAML line per key: each key set to a valid value other than its default, and that value
 * as config_format_key() prints it. Together they also build a Config with every key changed. */
static const struct {
        const char *key, *text, *formatted;
} key_values[] = {
        { "agent.cgroup_root_fs", "/tmp/cg", "\"/tmp/cg\"" },
        { "agent.cgroup_mode", "v2", "\"v2\"" },
        { "agent.subtree", "\"/colo.slice/colo\"", "\"/colo.slice/colo\"" },
        { "agent.state_dir", "'/var/run/colo2'", "\"/var/run/colo2\"" },
        { "agent.offline_placement", "subtree", "\"subtree\"" },
        { "agent.period", "250ms", "250ms" },
        { "agent.cpu_pressure_poll", "0", "0s" },
        { "agent.fast_reaction", "off", "false" },
        { "agent.own_cpu_group", "no", "false" },
        { "agent.psi_trigger_stall", "50ms", "50ms" },
        { "agent.psi_trigger_window", "2s", "2s" },
        { "agent.evict_grace_period", "1.5m", "90s" },
        { "agent.log_level", "debug", "\"debug\"" },
        { "metrics.enabled", "no", "false" },
        { "metrics.listen_address", "\"::1\"", "\"::1\"" },
        { "metrics.port", "9100", "9100" },
        { "features.cpu_idle", "false", "false" },
        { "features.cpu_quota", "No", "false" },
        { "features.cpu_quota", "on", "true" },
        { "features.cpu_weight", "OFF", "false" },
        { "features.root_cpu_weight", "no", "false" },
        { "features.memory_limit", "False", "false" },
        { "features.memory_protect", "no", "false" },
        { "features.memory_throttle", "off", "false" },
        { "features.pids_limit", "false", "false" },
        { "features.oom_score_adj", "off", "false" },
        { "features.qos_level", "FALSE", "false" },
        { "features.eviction", "false", "false" },
        { "features.cpu_control", "false", "false" },
        { "features.io_weight", "off", "false" },
        { "features.io_throttle", "no", "false" },
        { "features.io_latency", "false", "false" },
        { "isolation.reserved_cpu", "500m", "0.5" },
        { "isolation.reserved_memory", "1Gi", "1Gi" },
        { "isolation.cpu_safety_margin", "10%", "0.1" },
        { "isolation.memory_safety_margin", "0.2", "0.2" },
        { "isolation.min_offline_cpu", "0", "0" },
        { "isolation.cpu_period", "50ms", "50ms" },
        { "isolation.memory_free_watermark", "1G", "1G" },
        { "isolation.memory_psi_squeeze", "5%", "5" },
        { "isolation.memory_psi_evict", "60.5", "60.5" },
        { "isolation.evict_cooldown", "1m", "1m" },
        { "isolation.squeeze_hold", "0", "0s" },
        { "isolation.memory_headroom", "64Mi", "64Mi" },
        { "isolation.oom_score_adj_batch", "200", "200" },
        { "isolation.oom_score_adj_best_effort", "999", "999" },
        { "isolation.online_cpu_weight", "5000", "5000" },
        { "isolation.offline_cpu_weight", "2", "2" },
        { "isolation.offline_pids_max", "512", "512" },
        { "isolation.batch_pids_max", "256", "256" },
        { "isolation.best_effort_pids_max", "128", "128" },
        { "isolation.cpu_pressure_target", "2%", "2" },
        { "isolation.cpu_pressure_release", "0.25", "0.25" },
        { "isolation.io_pressure_target", "20", "20" },
        { "isolation.io_pressure_release", "2.5%", "2.5" },
        { "isolation.cpu_throttle_target", "25", "25" },
        { "isolation.cpu_control_floor", "250m", "0.25" },
        { "isolation.cpu_control_step_down", "25%", "0.25" },
        { "isolation.cpu_control_step_up", "0.5", "0.5" },
        { "isolation.cpu_control_hold", "500ms", "500ms" },
        { "isolation.cpu_evict_periods", "0", "0" },
        { "isolation.cpu_pressure_own_hold", "0s", "0s" },
        { "isolation.online_io_weight", "500", "500" },
        { "isolation.offline_io_weight", "50", "50" },
        { "isolation.offline_io_max", "\"254:0 wbps=50Mi  wiops=500 ;8:16 rbps=max\"",
          "\"254:0 wbps=50Mi wiops=500; 8:16 rbps=max\"" },
        { "isolation.batch_io_max", "'/dev/vda riops=1000 rbps=1G'", "\"/dev/vda rbps=1G riops=1000\"" },
        { "isolation.best_effort_io_max", "\"8:0 wbps=1048576\"", "\"8:0 wbps=1Mi\"" },
        { "isolation.online_io_latency", "\"254:0 target=1.5ms\"", "\"254:0 target=1500us\"" },
        { "prediction.predictor", "max(nsigma, peak)", "\"max(nsigma, peak)\"" },
        { "prediction.cpu_quantile", "0.9", "0.9" },
        { "prediction.memory_quantile", "99%", "0.99" },
        { "prediction.horizon", "2h", "2h" },
        { "prediction.half_life", "1d", "1d" },
        { "prediction.min_history", "0s", "0s" },
        { "prediction.checkpoint_interval", "10m", "10m" },
        { "prediction.checkpoint_path", "\"\"", "\"\"" },
        { "kubernetes.enabled", "yes", "true" },
        { "kubernetes.node_name", "node-1.example", "\"node-1.example\"" },
        { "kubernetes.kubeconfig", "/etc/kubernetes/kubelet.conf", "\"/etc/kubernetes/kubelet.conf\"" },
        { "kubernetes.cgroup_driver", "systemd", "\"systemd\"" },
        { "kubernetes.status_update_interval", "1m", "1m" },
        { "kubernetes.status_change_threshold", "0.25", "0.25" },
        { "kubernetes.stale_after", "2m", "2m" },
        { "kubernetes.offline_pod_default_cpu", "500m", "0.5" },
        { "kubernetes.offline_pod_default_memory", "512Mi", "512Mi" },
        { "kubernetes.offline_pod_pids_max", "1024", "1024" },
};

/* "agent.period", "1s" -> "agent:\n  period: 1s\n" */
static void key_yaml(const char *key, const char *text, char *buf, size_t size) {
        const char *dot = strchr(key, '.');
        assert_non_null(dot);
        snprintf(buf, size, "%.*s:\n  %s: %s\n", (int) (dot - key), key, dot + 1, text);
}

static void build_all_changed(Config *c) {
        config_init_defaults(c);
        for (size_t i = 0; i < ELEMENTSOF(key_values); i++) {
                char yaml[512];
                ColoError err = {};
                key_yaml(key_values[i].key, key_values[i].text, yaml, sizeof(yaml));
                if (parse(yaml, c, &err) < 0)
                        fail_msg("%s: %s", key_values[i].key, err.msg);
        }
}

static char *source_path(const char *rel) {
        const char *fixtures = getenv("COLO_TEST_FIXTURES");
        assert_non_null(fixtures);      /* set by tests/unit/meson.build: <source>/tests/fixtures */
        char root[PATH_MAX];
        snprintf(root, sizeof(root), "%s", fixtures);
        char *tests = dirname(root);    /* <source>/tests */
        char *src = dirname(tests);     /* <source> */
        char *path = NULL;
        assert_true(asprintf(&path, "%s/%s", src, rel) > 0);
        return path;
}

static void test_defaults_are_the_documented_ones(void **state) {
        (void) state;
        Config c;
        PolicyConfig p;
        config_init_defaults(&c);
        policy_config_init_defaults(&p);
        assert_string_equal(c.agent.cgroup_fs_root, "/sys/fs/cgroup");
        assert_string_equal(c.agent.cgroup_mode, "auto");
        assert_string_equal(c.agent.subtree, "colo");
        assert_int_equal(c.agent.period_usec, USEC_PER_SEC);
        assert_true(c.agent.fast_reaction);
        assert_true(c.agent.own_cpu_group);
        assert_int_equal(c.agent.psi_trigger_stall_usec, 100 * USEC_PER_MSEC);
        assert_true(c.metrics.enabled);
        assert_string_equal(c.metrics.listen_address, "127.0.0.1");
        assert_int_equal(c.metrics.port, 9479);
        assert_string_equal(c.prediction.predictor, "colo");
        /* CPU chosen for goodput, memory strict, as the predictor library defines them */
        assert_true(c.prediction.cpu_quantile == PREDICTOR_COLO_CPU_QUANTILE);
        assert_true(c.prediction.memory_quantile == PREDICTOR_COLO_STRICT_QUANTILE);
        assert_true(c.prediction.cpu_quantile == 0.8 && c.prediction.memory_quantile == 0.9925);
        assert_false(c.kubernetes.enabled);
        assert_string_equal(c.kubernetes.cgroup_driver, "cgroupfs");
        /* The policy part is the policy module's own defaults, key for key. */
        Config from_policy = c;
        from_policy.policy = p;
        assert_true(config_equal(&c, &from_policy));
}

static void test_every_key_parses_alone(void **state) {
        (void) state;
        bool covered[CONFIG_KEYS_MAX] = {};
        Config defaults;
        config_init_defaults(&defaults);

        for (size_t i = 0; i < ELEMENTSOF(key_values); i++) {
                int idx = config_key_lookup(key_values[i].key);
                if (idx < 0)
                        fail_msg("%s: not in the key table", key_values[i].key);
                covered[idx] = true;

                Config c = defaults;
                ColoError err = {};
                char yaml[512], got[256];
                key_yaml(key_values[i].key, key_values[i].text, yaml, sizeof(yaml));
                if (parse(yaml, &c, &err) < 0)
                        fail_msg("%s: %s", key_values[i].key, err.msg);
                assert_string_equal(config_format_key(&c, (size_t) idx, got, sizeof(got)), key_values[i].formatted);
                /* The value is not the default, and no other key moved. */
                assert_false(config_key_equal(&c, &defaults, (size_t) idx));
                for (size_t k = 0; k < config_n_keys(); k++)
                        if (k != (size_t) idx && !config_key_equal(&c, &defaults, k))
                                fail_msg("setting %s changed %s", key_values[i].key, config_key_name(k));
        }
        for (size_t k = 0; k < config_n_keys(); k++)
                if (!covered[k])
                        fail_msg("key %s has no row in key_values[]", config_key_name(k));
}

static void test_values_land_in_their_fields(void **state) {
        (void) state;
        Config c;
        build_all_changed(&c);
        assert_string_equal(c.agent.cgroup_fs_root, "/tmp/cg");
        assert_string_equal(c.agent.subtree, "/colo.slice/colo");
        assert_int_equal(c.agent.period_usec, 250 * USEC_PER_MSEC);
        assert_false(c.agent.fast_reaction);
        assert_int_equal(c.agent.evict_grace_usec, 90 * USEC_PER_SEC);
        assert_int_equal(c.metrics.port, 9100);
        assert_false(c.policy.cpu_idle);
        assert_false(c.policy.eviction);
        assert_true(c.policy.reserved_cpu_cores == 0.5);
        assert_int_equal(c.policy.reserved_mem_bytes, 1ULL << 30);
        assert_true(c.policy.cpu_safety_margin == 0.1);
        assert_int_equal(c.policy.mem_free_watermark, 1000000000ULL);
        assert_true(c.policy.mem_psi_squeeze == 5.0);
        assert_true(c.policy.mem_psi_evict == 60.5);
        assert_int_equal(c.policy.squeeze_hold_usec, 0);
        assert_int_equal(c.policy.oom_score_adj_batch, 200);
        assert_int_equal(c.policy.offline_cpu_weight, 2);
        assert_int_equal(c.prediction.half_life_usec, 24 * 3600 * USEC_PER_SEC);
        assert_string_equal(c.prediction.checkpoint_path, "");
        assert_true(c.kubernetes.enabled);
        assert_string_equal(c.kubernetes.node_name, "node-1.example");
        assert_true(c.kubernetes.status_change_threshold == 0.25);
}

static void test_flow_style_and_quoting_are_accepted(void **state) {
        (void) state;
        Config c;
        ColoError err = {};
        config_init_defaults(&c);
        assert_int_equal(parse("{agent: {period: \"2s\", log_level: 'warning'}, metrics: {port: 80}}", &c, &err), 0);
        assert_int_equal(c.agent.period_usec, 2 * USEC_PER_SEC);
        assert_string_equal(c.agent.log_level, "warning");
        assert_int_equal(c.metrics.port, 80);
        assert_int_equal(parse("agent:\n  period: !!str 3s\n", &c, &err), 0);
        assert_int_equal(c.agent.period_usec, 3 * USEC_PER_SEC);
}

static void test_empty_documents_change_nothing(void **state) {
        (void) state;
        static const char *const inputs[] = {
                "", "\n", "# only a comment\n", "---\n", "--- ~\n", "~\n", "null\n", "{}\n", "agent:\n",
                "agent: ~\nmetrics:\n# all commented\n", "---\n...\n",
        };
        Config start, c;
        build_all_changed(&start);
        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                ColoError err = {};
                c = start;
                if (parse(inputs[i], &c, &err) < 0)
                        fail_msg("input %zu: %s", i, err.msg);
                assert_true(config_equal(&c, &start));
        }
        c = start;
        assert_int_equal(config_parse_yaml(NULL, 0, NULL, &c, NULL), 0);
        assert_true(config_equal(&c, &start));
}

static void test_parse_applies_on_top_of_the_given_config(void **state) {
        (void) state;
        Config c, all;
        ColoError err = {};
        build_all_changed(&all);
        c = all;
        assert_int_equal(parse("agent:\n  period: 2s\n", &c, &err), 0);
        assert_int_equal(c.agent.period_usec, 2 * USEC_PER_SEC);
        c.agent.period_usec = all.agent.period_usec;
        assert_true(config_equal(&c, &all));
}

/* Every kind of error: where it is reported (line:column) and what the message says. */
static const struct {
        const char *yaml;
        const char *where;      /* "colo.yaml:2:11: " prefix */
        const char *says;       /* substring */
        int code;
} error_cases[] = {
        /* Structure. */
        { "agent:\n  period: [1s\n", "colo.yaml:3:1: ", "invalid YAML", -EINVAL },
        { "agent:\n\tperiod: 1s\n", "colo.yaml:2:", "invalid YAML", -EINVAL },
        { "- agent\n", "colo.yaml:1:1: ", "expected a mapping of sections", -EINVAL },
        { "just a string\n", "colo.yaml:1:1: ", "expected a mapping of sections (agent:, metrics:, ...), got a value",
          -EINVAL },
        { "agent:\n  - period\n", "colo.yaml:2:3: ", "agent: expected a mapping of keys, got a list", -EINVAL },
        { "agent: 1s\n", "colo.yaml:1:8: ", "agent: expected a mapping of keys, got a value", -EINVAL },
        { "agnet:\n  period: 1s\n", "colo.yaml:1:1: ", "unknown section \"agnet\" (did you mean agent?)", -EINVAL },
        { "colo:\n  x: 1\n", "colo.yaml:1:1: ", "unknown section \"colo\" (sections: agent,", -EINVAL },
        { "agent:\n  period: 1s\n  perod: 2s\n", "colo.yaml:3:3: ", "agent.perod: unknown key (did you mean period?)",
          -EINVAL },
        { "isolation:\n  period: 1s\n", "colo.yaml:2:3: ", "isolation.period: unknown key (did you mean agent.period?)",
          -EINVAL },
        { "agent:\n  period: 1s\n  log_level: info\n  period: 2s\n", "colo.yaml:4:3: ",
          "agent.period: duplicate key (first set at line 2)", -EINVAL },
        { "agent: {}\nmetrics: {}\nagent: {}\n", "colo.yaml:3:1: ", "agent: duplicate section (first at line 1)",
          -EINVAL },
        { "agent:\n  period:\n", "colo.yaml:2:10: ", "agent.period: expected a duration, got no value", -EINVAL },
        { "agent:\n  state_dir:\n", "colo.yaml:2:13: ", "write \"\" for an empty string", -EINVAL },
        { "agent:\n  period: {a: 1}\n", "colo.yaml:2:11: ", "agent.period: expected a duration, got a mapping",
          -EINVAL },
        { "metrics:\n  port: [1, 2]\n", "colo.yaml:2:9: ", "metrics.port: expected a port number, got a list", -EINVAL },
        { "agent:\n  \"per\\x1bod\": 1s\n", "colo.yaml:2:3: ", "agent.per?od: unknown key", -EINVAL },
        { "agent:\n  [a, b]: 1\n", "colo.yaml:2:3: ", "agent: expected a key name, got a list", -EINVAL },
        { "agent:\n  period: &p 1s\n  psi_trigger_window: *p\n", "colo.yaml:3:3: ",
          "agent.psi_trigger_window: aliases (*name) are not supported", -EINVAL },
        { "base: &b {period: 1s}\nagent:\n  <<: *b\n", "colo.yaml:1:1: ", "unknown section \"base\"", -EINVAL },
        { "agent: &a\n  period: 1s\nmetrics: *a\n", "colo.yaml:3:1: ", "metrics: aliases (*name) are not supported",
          -EINVAL },
        { "agent:\n  period: *nothing\n", "colo.yaml:2:11: ", "invalid YAML: found undefined alias", -EINVAL },
        { "agent:\n  period: !duration 1s\n", "colo.yaml:2:11: ", "agent.period: unsupported tag \"!duration\"",
          -EINVAL },
        { "agent: !!set {period: 1s}\n", "colo.yaml:1:8: ", "agent: unsupported tag", -EINVAL },
        { "agent: {period: 1s}\n---\nagent: {period: 2s}\n", "colo.yaml:2:1: ", "a second YAML document", -EINVAL },
        { "---\n---\n", "colo.yaml:2:1: ", "a second YAML document", -EINVAL },
        { "agent:\n  period: 1s\n\xff\n", "colo.yaml:3:1: ", "invalid YAML: invalid leading UTF-8 octet (byte 20)",
          -EINVAL },
        /* Values: syntax. */
        { "isolation:\n  reserved_cpu: abc\n", "colo.yaml:2:17: ",
          "isolation.reserved_cpu: expected a number of cores (e.g. 0.5 or 500m), got \"abc\"", -EINVAL },
        { "agent:\n  fast_reaction: maybe\n", "colo.yaml:2:18: ", "agent.fast_reaction: expected a boolean", -EINVAL },
        { "agent:\n  period: 5\n", "colo.yaml:2:11: ", "agent.period: expected a duration (e.g. 250ms", -EINVAL },
        { "agent:\n  period: -1s\n", "colo.yaml:2:11: ", "got \"-1s\"", -EINVAL },
        { "agent:\n  period: 1 s\n", "colo.yaml:2:11: ", "got \"1 s\"", -EINVAL },
        { "isolation:\n  reserved_memory: 12XB\n", "colo.yaml:2:20: ", "isolation.reserved_memory: expected a size",
          -EINVAL },
        { "isolation:\n  reserved_memory: 0.5\n", "colo.yaml:2:20: ", "expected a size", -EINVAL },
        { "isolation:\n  cpu_safety_margin: 1e-2\n", "colo.yaml:2:22: ", "expected a fraction", -EINVAL },
        { "isolation:\n  oom_score_adj_batch: 1.5\n", "colo.yaml:2:24: ", "expected an integer, got \"1.5\"", -EINVAL },
        { "metrics:\n  port: http\n", "colo.yaml:2:9: ", "metrics.port: expected a port number, got \"http\"", -EINVAL },
        /* Values: ranges. */
        { "agent:\n  period: 5ms\n", "colo.yaml:2:11: ",
          "agent.period: expected a duration between 10ms and 1m, got \"5ms\"", -EINVAL },
        { "agent:\n  period: 61s\n", "colo.yaml:2:11: ", "between 10ms and 1m", -EINVAL },
        { "agent:\n  period: 99999999999999999999999d\n", "colo.yaml:2:11: ", "between 10ms and 1m", -EINVAL },
        { "agent:\n  psi_trigger_window: 400ms\n", "colo.yaml:2:23: ", "between 500ms and 10s", -EINVAL },
        { "agent:\n  psi_trigger_window: 11s\n", "colo.yaml:2:23: ", "between 500ms and 10s", -EINVAL },
        { "isolation:\n  cpu_safety_margin: 1.5\n", "colo.yaml:2:22: ", "expected a fraction between 0 and 1", -EINVAL },
        { "isolation:\n  memory_safety_margin: 101%\n", "colo.yaml:2:25: ", "between 0 and 1", -EINVAL },
        { "isolation:\n  reserved_cpu: -1\n", "colo.yaml:2:17: ", "between 0 and 1024", -EINVAL },
        { "isolation:\n  memory_psi_evict: 101\n", "colo.yaml:2:21: ", "expected a percentage between 0 and 100",
          -EINVAL },
        { "isolation:\n  oom_score_adj_batch: -1001\n", "colo.yaml:2:24: ", "between -1000 and 1000", -EINVAL },
        { "isolation:\n  oom_score_adj_batch: 99999999999999999999\n", "colo.yaml:2:24: ", "between -1000 and 1000",
          -EINVAL },
        { "isolation:\n  online_cpu_weight: 0\n", "colo.yaml:2:22: ", "between 1 and 10000", -EINVAL },
        { "isolation:\n  offline_cpu_weight: -5\n", "colo.yaml:2:23: ", "between 1 and 10000", -EINVAL },
        { "isolation:\n  cpu_period: 2s\n", "colo.yaml:2:15: ", "between 1ms and 1s", -EINVAL },
        { "isolation:\n  reserved_memory: 2Pi\n", "colo.yaml:2:20: ", "between 0 and 1Pi", -EINVAL },
        { "metrics:\n  port: 0\n", "colo.yaml:2:9: ", "between 1 and 65535", -EINVAL },
        { "metrics:\n  port: 65536\n", "colo.yaml:2:9: ", "between 1 and 65535", -EINVAL },
        /* Strings. */
        { "agent:\n  cgroup_mode: v3\n", "colo.yaml:2:16: ", "agent.cgroup_mode: expected one of auto, v1, v2, got \"v3\"",
          -EINVAL },
        { "agent:\n  log_level: loud\n", "colo.yaml:2:14: ", "expected one of debug, info, notice, warning, error",
          -EINVAL },
        { "kubernetes:\n  cgroup_driver: \"\"\n", "colo.yaml:2:18: ", "expected one of cgroupfs, systemd, got \"\"",
          -EINVAL },
        { "agent:\n  state_dir: run/colo\n", "colo.yaml:2:14: ", "agent.state_dir: expected an absolute path", -EINVAL },
        { "agent:\n  state_dir: \"\"\n", "colo.yaml:2:14: ", "expected an absolute path, got \"\"", -EINVAL },
        { "agent:\n  subtree: ../escape\n", "colo.yaml:2:12: ", "agent.subtree: expected a cgroup path", -EINVAL },
        { "agent:\n  subtree: /\n", "colo.yaml:2:12: ", "agent.subtree: expected a cgroup path", -EINVAL },
        { "agent:\n  subtree: a//b\n", "colo.yaml:2:12: ", "agent.subtree: expected a cgroup path", -EINVAL },
        { "agent:\n  subtree: a/\n", "colo.yaml:2:12: ", "agent.subtree: expected a cgroup path", -EINVAL },
        { "metrics:\n  listen_address: 999.1.1.1\n", "colo.yaml:2:19: ", "metrics.listen_address: expected an IPv4 or IPv6",
          -EINVAL },
        { "metrics:\n  listen_address: localhost\n", "colo.yaml:2:19: ", "got \"localhost\"", -EINVAL },
        { "kubernetes:\n  node_name: Node_1\n", "colo.yaml:2:14: ", "kubernetes.node_name: expected a node name", -EINVAL },
        { "kubernetes:\n  node_name: -a\n", "colo.yaml:2:14: ", "kubernetes.node_name: expected a node name", -EINVAL },
        { "prediction:\n  predictor: oracle\n", "colo.yaml:2:14: ", "prediction.predictor: expected a predictor", -EINVAL },
        { "prediction:\n  predictor: max(colo\n", "colo.yaml:2:14: ", "expected a predictor", -EINVAL },
        { "prediction:\n  predictor: colonel\n", "colo.yaml:2:14: ", "expected a predictor", -EINVAL },
        { "prediction:\n  predictor: max(max(max(max(max(peak)))))\n", "colo.yaml:2:14: ", "expected a predictor", -EINVAL },
        { "agent:\n  state_dir: \"/a\\tb\"\n", "colo.yaml:2:14: ", "control characters are not allowed, got \"/a\\x09b\"",
          -EINVAL },
        { "agent:\n  state_dir: \"/a\\0b\"\n", "colo.yaml:2:14: ", "agent.state_dir: NUL bytes are not allowed", -EINVAL },
        { "agent:\n  log_level: \"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n", "colo.yaml:2:14: ",
          "agent.log_level: longer than 15 characters (30 given)", -EINVAL },
        /* Cross-field rules: the key the file set last is blamed. */
        { "agent:\n  psi_trigger_stall: 2s\n", "colo.yaml:2:22: ",
          "agent.psi_trigger_stall: must be less than agent.psi_trigger_window (1s), got 2s", -EINVAL },
        { "agent:\n  psi_trigger_stall: 1s\n", "colo.yaml:2:22: ", "must be less than agent.psi_trigger_window", -EINVAL },
        { "agent:\n  psi_trigger_stall: 800ms\n  psi_trigger_window: 500ms\n", "colo.yaml:3:23: ",
          "agent.psi_trigger_window: must be greater than agent.psi_trigger_stall (800ms), got 500ms", -EINVAL },
        { "isolation:\n  memory_psi_evict: 5\n", "colo.yaml:2:21: ",
          "isolation.memory_psi_evict: must be at least isolation.memory_psi_squeeze (10), got 5", -EINVAL },
        { "isolation:\n  memory_psi_squeeze: 50\n", "colo.yaml:2:23: ",
          "isolation.memory_psi_squeeze: must be at most isolation.memory_psi_evict (40), got 50", -EINVAL },
        { "isolation:\n  oom_score_adj_best_effort: 100\n", "colo.yaml:2:30: ",
          "must be at least isolation.oom_score_adj_batch (500), got 100", -EINVAL },
        { "isolation:\n  offline_cpu_weight: 10000\n  online_cpu_weight: 100\n", "colo.yaml:3:22: ",
          "isolation.online_cpu_weight: must be at least isolation.offline_cpu_weight (10000), got 100", -EINVAL },
        { "kubernetes:\n  enabled: true\n  stale_after: 1s\n", "colo.yaml:3:16: ",
          "kubernetes.stale_after: must be greater than agent.period (1s), got 1s", -EINVAL },
};

static void test_errors_name_line_and_key_and_change_nothing(void **state) {
        (void) state;
        /* The cross-field cases expect the defaults around them. */
        Config defaults;
        config_init_defaults(&defaults);

        for (size_t i = 0; i < ELEMENTSOF(error_cases); i++) {
                Config c, before;
                memcpy(&c, &defaults, sizeof(c));
                memcpy(&before, &defaults, sizeof(before));
                ColoError err = {};
                int r = parse(error_cases[i].yaml, &c, &err);
                if (r != error_cases[i].code)
                        fail_msg("case %zu: got %d (%s), wanted %d", i, r, err.msg, error_cases[i].code);
                if (strncmp(err.msg, error_cases[i].where, strlen(error_cases[i].where)) != 0 ||
                    !strstr(err.msg, error_cases[i].says))
                        fail_msg("case %zu: message\n  %s\nwanted prefix '%s' and '%s'", i, err.msg, error_cases[i].where,
                                 error_cases[i].says);
                assert_memory_equal(&c, &before, sizeof(c));

                /* A valid key before the bad one is not applied either. */
                _cleanup_free_ char *with_prefix = NULL;
                assert_true(asprintf(&with_prefix, "kubernetes:\n  node_name: set-first\n%s", error_cases[i].yaml) > 0);
                if (parse(with_prefix, &c, &err) >= 0)
                        fail_msg("case %zu: accepted after a valid key", i);
                assert_memory_equal(&c, &before, sizeof(c));
        }
}

static void test_error_with_null_err_still_fails_cleanly(void **state) {
        (void) state;
        Config c, before;
        config_init_defaults(&c);
        memcpy(&before, &c, sizeof(before));
        assert_int_equal(config_parse_yaml("agent: [", 8, "x", &c, NULL), -EINVAL);
        assert_int_equal(config_parse_yaml("agent: {period: 1ms}", 20, NULL, &c, NULL), -EINVAL);
        assert_memory_equal(&c, &before, sizeof(c));
        ColoError err = {};
        assert_int_equal(config_parse_yaml("agent: {period: 1ms}", 20, NULL, &c, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "<config>:1:17: agent.period:"));
}

static void test_oversized_input_is_refused(void **state) {
        (void) state;
        size_t size = CONFIG_FILE_MAX + 1;
        char *big = malloc(size + 1);
        assert_non_null(big);
        memset(big, '#', size);
        big[size] = '\0';
        Config c;
        ColoError err = {};
        config_init_defaults(&c);
        assert_int_equal(config_parse_yaml(big, size, "big.yaml", &c, &err), -EFBIG);
        assert_non_null(strstr(err.msg, "big.yaml: larger than"));
        free(big);
}

static void test_durations(void **state) {
        (void) state;
        static const struct {
                const char *s;
                int r;
                uint64_t usec;
        } cases[] = {
                { "100us", 0, 100 },
                { "250ms", 0, 250000 },
                { "1s", 0, 1000000 },
                { "5m", 0, 300000000 },
                { "12h", 0, 43200000000ULL },
                { "2d", 0, 172800000000ULL },
                { "1.5h", 0, 5400000000ULL },
                { "0.5ms", 0, 500 },
                { "0.000001s", 0, 1 },
                { "1.50000000000000000000000000000000000000h", 0, 5400000000ULL },
                { "007s", 0, 7000000 },
                { "0", 0, 0 },
                { "0s", 0, 0 },
                { "0.0d", 0, 0 },
                { "18446744073709551615us", 0, UINT64_MAX },
                { "213503982d", 0, 213503982ULL * 86400000000ULL },
                { "18446744073709551616us", -ERANGE, 0 },
                { "213503983d", -ERANGE, 0 },
                { "99999999999999999999999999s", -ERANGE, 0 },
                { "1.5us", -EINVAL, 0 },
                { "0.0000001s", -EINVAL, 0 },
                { "5", -EINVAL, 0 },
                { "1.5", -EINVAL, 0 },
                { "-1s", -EINVAL, 0 },
                { "+1s", -EINVAL, 0 },
                { " 1s", -EINVAL, 0 },
                { "1s ", -EINVAL, 0 },
                { "1 s", -EINVAL, 0 },
                { "1S", -EINVAL, 0 },
                { "1sec", -EINVAL, 0 },
                { "1h30m", -EINVAL, 0 },
                { "s", -EINVAL, 0 },
                { ".5s", -EINVAL, 0 },
                { "1.s", -EINVAL, 0 },
                { "1e3ms", -EINVAL, 0 },
                { "0x10s", -EINVAL, 0 },
                { "", -EINVAL, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 12345;
                int r = config_parse_duration(cases[i].s, &v);
                if (r != cases[i].r)
                        fail_msg("\"%s\": got %d, wanted %d", cases[i].s, r, cases[i].r);
                assert_int_equal(v, r == 0 ? cases[i].usec : 12345);
        }
        assert_int_equal(config_parse_duration(NULL, &(uint64_t) { 0 }), -EINVAL);
}

static void test_bytes(void **state) {
        (void) state;
        static const struct {
                const char *s;
                int r;
                uint64_t bytes;
        } cases[] = {
                { "512Mi", 0, 512ULL << 20 },
                { "2Gi", 0, 2ULL << 30 },
                { "1G", 0, 1000000000ULL },
                { "1048576", 0, 1048576 },
                { "0", 0, 0 },
                { "1k", 0, 1000 },
                { "1K", 0, 1000 },
                { "1Ki", 0, 1024 },
                { "1.5Gi", 0, 3ULL << 29 },
                { "0.5Ki", 0, 512 },
                { "15Ei", 0, 15ULL << 60 },
                { "18446744073709551615", 0, UINT64_MAX },
                { "18E", 0, 18000000000000000000ULL },
                { "16Ei", -ERANGE, 0 },
                { "19E", -ERANGE, 0 },
                { "18446744073709551616", -ERANGE, 0 },
                { "0.5", -EINVAL, 0 },
                { "1.0001Ki", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { "1GB", -EINVAL, 0 },
                { "1gi", -EINVAL, 0 },
                { "1 Gi", -EINVAL, 0 },
                { "1e3", -EINVAL, 0 },
                { "Gi", -EINVAL, 0 },
                { "", -EINVAL, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 12345;
                int r = config_parse_bytes(cases[i].s, &v);
                if (r != cases[i].r)
                        fail_msg("\"%s\": got %d, wanted %d", cases[i].s, r, cases[i].r);
                assert_int_equal(v, r == 0 ? cases[i].bytes : 12345);
        }
}

static void test_formatting_reads_back(void **state) {
        (void) state;
        static const uint64_t values[] = { 0, 1, 999, 1000, 1023, 1024, 1536, 60000000, 90000000, 86400000000ULL,
                                           1ULL << 40, 1000000000000ULL, UINT64_MAX, UINT64_MAX - 1 };
        char buf[64];
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                uint64_t v;
                assert_int_equal(config_parse_duration(config_format_duration(values[i], buf, sizeof(buf)), &v), 0);
                assert_int_equal(v, values[i]);
                assert_int_equal(config_parse_bytes(config_format_bytes(values[i], buf, sizeof(buf)), &v), 0);
                assert_int_equal(v, values[i]);
        }
        assert_string_equal(config_format_duration(90 * USEC_PER_SEC, buf, sizeof(buf)), "90s");
        assert_string_equal(config_format_duration(250, buf, sizeof(buf)), "250us");
        assert_string_equal(config_format_bytes(256ULL << 20, buf, sizeof(buf)), "256Mi");
        assert_string_equal(config_format_bytes(1500, buf, sizeof(buf)), "1500");
}

static void test_booleans(void **state) {
        (void) state;
        static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "on", "ON" };
        static const char *const no[] = { "false", "False", "no", "NO", "off", "Off" };
        static const char *const neither[] = { "", "1", "0", "y", "n", "truee", " true", "enabled" };
        bool b;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                b = false;
                assert_int_equal(config_parse_bool(yes[i], &b), 0);
                assert_true(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                b = true;
                assert_int_equal(config_parse_bool(no[i], &b), 0);
                assert_false(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(neither); i++)
                assert_int_equal(config_parse_bool(neither[i], &b), -EINVAL);
}

/* config_write_yaml() of a non-default Config parses back to the same Config: every key's text
 * is what the parser reads, including strings at full length with characters YAML must escape. */
static void test_written_config_reads_back(void **state) {
        (void) state;
        Config all, c;
        build_all_changed(&all);
        memset(all.agent.state_dir, 'x', sizeof(all.agent.state_dir) - 1);
        all.agent.state_dir[0] = '/';
        all.agent.state_dir[10] = '"';
        all.agent.state_dir[11] = '\\';
        all.agent.state_dir[12] = ':';
        all.agent.state_dir[13] = '#';
        all.agent.state_dir[sizeof(all.agent.state_dir) - 1] = '\0';
        all.policy.reserved_cpu_cores = 1.0 / 3.0;     /* not a short decimal: printed in full */
        all.policy.cpu_safety_margin = 4.9406564584124654e-324;        /* the smallest double */
        all.kubernetes.status_change_threshold = 0.1 + 0.2;

        Config defaults;
        config_init_defaults(&defaults);
        const Config *wanted[] = { &all, &defaults };

        for (size_t w = 0; w < ELEMENTSOF(wanted); w++) {
                char *yaml = NULL;
                size_t size = 0;
                FILE *f = open_memstream(&yaml, &size);
                assert_non_null(f);
                assert_int_equal(config_write_yaml(wanted[w], f), 0);
                fclose(f);
                /* Parsed over a Config that differs in every key, so every key must be written. */
                ColoError err = {};
                if (w == 0)
                        config_init_defaults(&c);
                else
                        build_all_changed(&c);
                if (parse(yaml, &c, &err) < 0)
                        fail_msg("%s\n%s", err.msg, yaml);
                for (size_t i = 0; i < config_n_keys(); i++)
                        if (!config_key_equal(&c, wanted[w], i))
                                fail_msg("%s did not read back:\n%s", config_key_name(i), yaml);
                free(yaml);
        }
}

static void test_strange_characters_are_refused(void **state) {
        (void) state;
        static const char *const cases[] = {
                "agent:\n  state_dir: \"/a\\x85b\"\n",     /* NEL, C1 */
                "agent:\n  state_dir: \"/a\\u2028b\"\n",   /* line separator */
                "agent:\n  state_dir: \"/a\\x1bb\"\n",     /* ESC */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Config c;
                ColoError err = {};
                config_init_defaults(&c);
                if (parse(cases[i], &c, &err) != -EINVAL)
                        fail_msg("case %zu accepted", i);
                assert_non_null(strstr(err.msg, "colo.yaml:2:"));
        }
        Config c;
        ColoError err = {};
        config_init_defaults(&c);
        assert_int_equal(parse("agent:\n  state_dir: /srv/colo-état\n", &c, &err), 0);
        assert_string_equal(c.agent.state_dir, "/srv/colo-état");
}

static void test_key_equal_sees_each_key(void **state) {
        (void) state;
        Config defaults, all;
        config_init_defaults(&defaults);
        build_all_changed(&all);
        assert_true(config_equal(&defaults, &defaults));
        assert_false(config_equal(&defaults, &all));
        for (size_t i = 0; i < config_n_keys(); i++) {
                assert_false(config_key_equal(&defaults, &all, i));
                assert_true(config_key_equal(&all, &all, i));
        }
}

static size_t type_alignment(ConfigType t) {
        switch (t) {
        case CONFIG_TYPE_BOOL:
        case CONFIG_TYPE_STRING:
                return 1;
        case CONFIG_TYPE_PORT:
                return 2;
        case CONFIG_TYPE_INT32:
                return 4;
        case CONFIG_TYPE_BOOL_OR_AUTO:
                return _Alignof(FeatureMode);
        default:
                return 8;
        }
}

static int compare_by_offset(const void *a, const void *b) {
        const ConfigKey *x = *(const ConfigKey *const *) a, *y = *(const ConfigKey *const *) b;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Every byte of Config belongs to a key or is alignment padding: a field added to config.h
 * without a key (which could then never be configured, compared or documented) fails here. */
static void test_key_table_covers_every_field(void **state) {
        (void) state;
        const ConfigKey *sorted[CONFIG_KEYS_MAX];
        size_t n = config_n_keys();
        assert_true(n <= CONFIG_KEYS_MAX);
        for (size_t i = 0; i < n; i++) {
                sorted[i] = &config_keys[i];
                assert_int_equal(config_key_lookup(config_key_name(i)), (int) i);
                assert_true(config_keys[i].type >= 0 && config_keys[i].type < _CONFIG_TYPE_MAX);
        }
        assert_int_equal(config_key_lookup("agent.nope"), -ENOENT);
        assert_int_equal(config_key_lookup("agent"), -ENOENT);
        assert_null(config_key_name(n));
        qsort(sorted, n, sizeof(sorted[0]), compare_by_offset);
        /* Each member struct of Config starts at its own alignment. */
        static const struct {
                size_t offset, align;
        } members[] = {
                { offsetof(Config, agent), _Alignof(AgentConfig) },
                { offsetof(Config, metrics), _Alignof(MetricsConfig) },
                { offsetof(Config, policy), _Alignof(PolicyConfig) },
                { offsetof(Config, prediction), _Alignof(PredictionConfig) },
                { offsetof(Config, kubernetes), _Alignof(KubernetesConfig) },
        };
        size_t end = 0;
        for (size_t i = 0; i < n; i++) {
                size_t align = type_alignment(sorted[i]->type);
                for (size_t m = 0; m < ELEMENTSOF(members); m++)
                        if (members[m].offset == sorted[i]->offset)
                                align = MAX(align, members[m].align);
                size_t expected = (end + align - 1) / align * align;
                if (sorted[i]->offset != expected)
                        fail_msg("%s at offset %zu, expected %zu: a field before it has no key", sorted[i]->dotted,
                                 sorted[i]->offset, expected);
                end = sorted[i]->offset + sorted[i]->size;
        }
        assert_true(sizeof(Config) - end < 8);
}

static void test_key_table_rows_are_consistent(void **state) {
        (void) state;
        Config defaults;
        config_init_defaults(&defaults);
        for (size_t i = 0; i < config_n_keys(); i++) {
                const ConfigKey *k = &config_keys[i];
                char text[300], reason[512];
                const char *why = NULL;
                /* Every default passes its own key's checks (read back from its formatted text). */
                Config c = defaults;
                config_format_key(&defaults, i, text, sizeof(text));
                if (k->type == CONFIG_TYPE_STRING || k->type == CONFIG_TYPE_IO_MAX || k->type == CONFIG_TYPE_IO_LATENCY) {
                        /* Unquote: defaults hold no escapes. */
                        size_t len = strlen(text);
                        memmove(text, text + 1, len - 2);
                        text[len - 2] = '\0';
                }
                if (config_key_parse(k, text, &c, reason, sizeof(reason), &why) < 0)
                        fail_msg("default of %s does not pass its own checks: %s", k->dotted, why);
                assert_true(config_key_equal(&c, &defaults, i));
                if (k->type != CONFIG_TYPE_BOOL && k->type != CONFIG_TYPE_STRING)
                        assert_true(k->min <= k->max);
        }
}

static void test_example_file_is_the_defaults_and_lists_every_key(void **state) {
        (void) state;
        _cleanup_free_ char *path = source_path("deploy/colo.yaml");
        Config defaults, c;
        ColoError err = {};
        config_init_defaults(&defaults);

        c = defaults;
        c.agent.period_usec = 7;        /* overwritten by the load, which starts from defaults */
        if (config_load_file(path, &c, &err) < 0)
                fail_msg("%s", err.msg);
        assert_true(config_equal(&c, &defaults));

        /* Parsed on top of a Config with every key changed, it must set every key back. */
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        assert_int_equal(read_full_file(path, CONFIG_FILE_MAX, &text, &size, &err), 0);
        build_all_changed(&c);
        assert_int_equal(config_parse_yaml(text, size, path, &c, &err), 0);
        for (size_t i = 0; i < config_n_keys(); i++)
                if (!config_key_equal(&c, &defaults, i))
                        fail_msg("deploy/colo.yaml does not set %s to its default", config_key_name(i));
}

static void test_docs_describe_every_key_with_its_default(void **state) {
        (void) state;
        _cleanup_free_ char *path = source_path("docs/config.md");
        _cleanup_free_ char *text = NULL;
        ColoError err = {};
        Config defaults;
        config_init_defaults(&defaults);
        if (read_full_file(path, 1 << 20, &text, NULL, &err) < 0)
                fail_msg("%s", err.msg);
        for (size_t i = 0; i < config_n_keys(); i++) {
                char row[128], def[300], quoted_def[310];
                snprintf(row, sizeof(row), "\n| `%s` |", config_key_name(i));
                const char *line = strstr(text, row);
                if (!line) {
                        fail_msg("docs/config.md has no table row for %s", config_key_name(i));
                        return;
                }
                const char *eol = strchr(line + 1, '\n');
                size_t len = eol ? (size_t) (eol - line) : strlen(line);
                _cleanup_free_ char *copy = strndup(line, len);
                snprintf(quoted_def, sizeof(quoted_def), "`%s`", config_format_key(&defaults, i, def, sizeof(def)));
                if (!strstr(copy, quoted_def))
                        fail_msg("docs/config.md row of %s does not show its default %s", config_key_name(i), quoted_def);
        }
}

/* 100k '[' (and '{', and block mappings) are refused at the first level too many, naming the
 * line and column, before libyaml builds anything: before, the parse took quadratic time (33 s
 * of `colo status --config` on this machine). Depth CONFIG_DEPTH_MAX itself is not refused. */
static void test_deep_nesting_is_refused_before_building_anything(void **state) {
        (void) state;
        enum { n = 100000 };
        static char deep[n + 16];
        for (int kind = 0; kind < 2; kind++) {
                memcpy(deep, "agent: ", 7);
                memset(deep + 7, kind == 0 ? '[' : '{', n);
                deep[7 + n] = '\0';
                Config c, before;
                config_init_defaults(&c);
                memcpy(&before, &c, sizeof(c));
                ColoError err = {};
                assert_int_equal(config_parse_yaml(deep, strlen(deep), "deep.yaml", &c, &err), -EINVAL);
                assert_non_null(strstr(err.msg, "deep.yaml:1:23: nested deeper than 16 levels"));
                assert_memory_equal(&c, &before, sizeof(c));
        }

        /* Block style: 17 mappings, one per line, indented. */
        char block[2048] = "";
        size_t len = 0;
        for (int d = 0; d < CONFIG_DEPTH_MAX + 1; d++)
                len += (size_t) snprintf(block + len, sizeof(block) - len, "%*sk%d:\n", 2 * d, "", d);
        len += (size_t) snprintf(block + len, sizeof(block) - len, "%*sleaf: 1\n", 2 * (CONFIG_DEPTH_MAX + 1), "");
        Config c;
        config_init_defaults(&c);
        ColoError err = {};
        assert_int_equal(config_parse_yaml(block, len, "block.yaml", &c, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "block.yaml:17:"));
        assert_non_null(strstr(err.msg, "nested deeper than"));

        char ok[256] = "x: ";       /* exactly CONFIG_DEPTH_MAX levels: refused for its meaning, not its depth */
        for (int d = 1; d < CONFIG_DEPTH_MAX; d++)
                strcat(ok, "[");
        for (int d = 1; d < CONFIG_DEPTH_MAX; d++)
                strcat(ok, "]");
        assert_int_equal(config_parse_yaml(ok, strlen(ok), "ok.yaml", &c, &err), -EINVAL);
        assert_null(strstr(err.msg, "nested deeper"));
}

static void test_load_file_errors_name_the_path(void **state) {
        (void) state;
        char dir[] = "/tmp/colo-test-config-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[PATH_MAX], missing[PATH_MAX];
        snprintf(path, sizeof(path), "%s/colo.yaml", dir);
        snprintf(missing, sizeof(missing), "%s/missing.yaml", dir);

        Config c, before;
        build_all_changed(&c);
        memcpy(&before, &c, sizeof(before));
        ColoError err = {};

        assert_int_equal(config_load_file(missing, &c, &err), -ENOENT);
        assert_non_null(strstr(err.msg, missing));
        assert_int_equal(config_load_file(dir, &c, &err), -EISDIR);
        assert_non_null(strstr(err.msg, dir));
        /* A FIFO does not block (nobody writes to it): refused, naming the path. */
        char fifo[PATH_MAX];
        snprintf(fifo, sizeof(fifo), "%s/fifo.yaml", dir);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_int_equal(config_load_file(fifo, &c, &err), -EINVAL);
        assert_non_null(strstr(err.msg, fifo));
        assert_non_null(strstr(err.msg, "is a FIFO, not a regular file"));
        assert_int_equal(unlink(fifo), 0);
        assert_memory_equal(&c, &before, sizeof(c));

        static const char bad[] = "agent:\n  period: 1s\n  fast_reaction: sometimes\n";
        assert_int_equal(write_file_atomic(path, bad, strlen(bad), 0600, &err), 0);
        assert_int_equal(config_load_file(path, &c, &err), -EINVAL);
        char prefix[PATH_MAX + 32];
        snprintf(prefix, sizeof(prefix), "%s:3:18: agent.fast_reaction: expected a boolean", path);
        assert_non_null(strstr(err.msg, prefix));
        assert_memory_equal(&c, &before, sizeof(c));

        static const char good[] = "agent:\n  period: 2s\n";
        assert_int_equal(write_file_atomic(path, good, strlen(good), 0600, &err), 0);
        assert_int_equal(config_load_file(path, &c, &err), 0);
        Config expected;
        config_init_defaults(&expected);
        expected.agent.period_usec = 2 * USEC_PER_SEC;
        assert_true(config_equal(&c, &expected));       /* defaults under the file, not the old config */

        size_t big_size = CONFIG_FILE_MAX + 10;
        char *big = malloc(big_size);
        assert_non_null(big);
        memset(big, '\n', big_size);
        assert_int_equal(write_file_atomic(path, big, big_size, 0600, &err), 0);
        free(big);
        memcpy(&c, &before, sizeof(c));
        assert_int_equal(config_load_file(path, &c, &err), -EFBIG);
        assert_non_null(strstr(err.msg, path));
        assert_memory_equal(&c, &before, sizeof(c));

        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_are_the_documented_ones),
                cmocka_unit_test(test_every_key_parses_alone),
                cmocka_unit_test(test_values_land_in_their_fields),
                cmocka_unit_test(test_flow_style_and_quoting_are_accepted),
                cmocka_unit_test(test_empty_documents_change_nothing),
                cmocka_unit_test(test_parse_applies_on_top_of_the_given_config),
                cmocka_unit_test(test_errors_name_line_and_key_and_change_nothing),
                cmocka_unit_test(test_error_with_null_err_still_fails_cleanly),
                cmocka_unit_test(test_oversized_input_is_refused),
                cmocka_unit_test(test_deep_nesting_is_refused_before_building_anything),
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_bytes),
                cmocka_unit_test(test_formatting_reads_back),
                cmocka_unit_test(test_booleans),
                cmocka_unit_test(test_written_config_reads_back),
                cmocka_unit_test(test_strange_characters_are_refused),
                cmocka_unit_test(test_key_equal_sees_each_key),
                cmocka_unit_test(test_key_table_covers_every_field),
                cmocka_unit_test(test_key_table_rows_are_consistent),
                cmocka_unit_test(test_example_file_is_the_defaults_and_lists_every_key),
                cmocka_unit_test(test_docs_describe_every_key_with_its_default),
                cmocka_unit_test(test_load_file_errors_name_the_path),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
