#!/bin/sh
# Scrapes a running colo agent with a real Prometheus (Debian's) and checks, through Prometheus's
# HTTP API, what a user's Prometheus would see: the series are there after two scrapes, with the
# types and labels colo declares, and every PromQL expression of the Grafana dashboard returns
# data. Also checks the dashboard JSON has the fields Grafana requires.
#   prometheus-scrape.sh AGENT_PORT DASHBOARD_JSON WORKLOAD...
# WORKLOAD is class/tier/name, a workload the agent manages whose series must be there.
# Prometheus listens on 127.0.0.1 only, is stopped by its PID at exit and gives up after 90 s.
set -eu
agent_port="${1:?usage: prometheus-scrape.sh AGENT_PORT DASHBOARD WORKLOAD...}"
dashboard="${2:?usage: prometheus-scrape.sh AGENT_PORT DASHBOARD WORKLOAD...}"
shift 2
for tool in prometheus curl jq; do
        command -v "$tool" >/dev/null || { echo "prometheus-scrape: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
tmp=$(mktemp -d)
prom_pid=""
cleanup() {
        [ -z "$prom_pid" ] || { kill "$prom_pid" 2>/dev/null; wait "$prom_pid" 2>/dev/null || true; }
        rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() { echo "prometheus-scrape: $*" >&2; [ ! -f "$tmp/prom.log" ] || tail -20 "$tmp/prom.log" >&2; exit 1; }

# --- the dashboard's JSON, as Grafana needs it ---------------------------------------------
jq -e 'type == "object" and (.title | type == "string") and (.uid | type == "string")
        and (.schemaVersion | type == "number") and (.panels | type == "array" and length > 0)' \
        "$dashboard" >/dev/null || fail "$dashboard: needs title, uid, schemaVersion and panels"
bad=$(jq -r '.panels[] | select((.id | type) != "number" or (.type | type) != "string"
        or (.title | type) != "string" or (.gridPos | (.h, .w, .x, .y) | type) != "number"
        or (.targets | type) != "array" or any(.targets[]; (.expr | type) != "string" or (.refId | type) != "string")
        or ([.targets[].refId] | length) != ([.targets[].refId] | unique | length))
        | .title // "(untitled)"' "$dashboard")
[ -z "$bad" ] || fail "$dashboard: panels without id/type/title/gridPos/targets{expr,refId} or with repeated refIds: $bad"
[ "$(jq '[.panels[].id] | length == (unique | length)' "$dashboard")" = true ] || fail "$dashboard: panel ids repeat"
jq -e '.panels | all(.gridPos.x + .gridPos.w <= 24)' "$dashboard" >/dev/null || fail "$dashboard: a panel is wider than Grafana's 24 columns"
undefined=$(jq -r '[.templating.list[].name] as $vars | .panels[].targets[].expr
        | [scan("\\$\\{?([A-Za-z_][A-Za-z0-9_]*)") | .[0]] | .[] | select(startswith("__") | not)
        | select(. as $v | $vars | index($v) | not)' "$dashboard" | sort -u)
[ -z "$undefined" ] || fail "$dashboard: expressions use undefined variables: $undefined"

# --- Prometheus scraping the agent -------------------------------------------------------------
# A scrape must finish within its interval. In the VM of tests/vm (COLO_TEST_TIMEOUT_SCALE > 1:
# emulated CPUs) an ASan agent can take over a second to answer, which would mark the target down,
# so the interval (and with it the timeout) is longer there; the checks below are the same.
interval=1
[ "${COLO_TEST_TIMEOUT_SCALE:-1}" -gt 1 ] 2>/dev/null && interval=4
cat >"$tmp/prometheus.yml" <<CONF
global:
  scrape_interval: ${interval}s
  scrape_timeout: ${interval}s
  evaluation_interval: ${interval}s
scrape_configs:
  - job_name: colo
    static_configs:
      - targets: ["127.0.0.1:$agent_port"]
CONF
start_prometheus() {
        prom_port=$1
        prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
                --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prom.log" 2>&1 &
        prom_pid=$!
}
query() { curl -sf --max-time 5 "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1"; }

# A port of our own: another test (or user) may hold one; try a few.
ready=""
for attempt in 1 2 3 4 5; do
        start_prometheus $((20000 + ($$ * 7 + attempt * 977) % 30000))
        for _ in $(seq 1 100); do
                if curl -sf --max-time 2 "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1; then ready=1; break; fi
                kill -0 "$prom_pid" 2>/dev/null || break
                sleep 0.2
        done
        [ -z "$ready" ] || break
        kill "$prom_pid" 2>/dev/null; wait "$prom_pid" 2>/dev/null || true; prom_pid=""
done
[ -n "$ready" ] || fail "Prometheus did not start"

# Two scrapes: two samples of the agent's tick counter within the last minute.
scrapes=0
for _ in $(seq 1 300); do
        scrapes=$(query 'count_over_time(colo_ticks_total{job="colo"}[1m])' | jq -r '.data.result[0].value[1] // 0')
        [ "$scrapes" -ge 2 ] 2>/dev/null && break
        sleep 0.2
done
[ "$scrapes" -ge 2 ] 2>/dev/null || fail "no two scrapes of 127.0.0.1:$agent_port within 60 s (got $scrapes)"
target=$(curl -sf "http://127.0.0.1:$prom_port/api/v1/targets" | jq -c '.data.activeTargets[0]')
health=$(echo "$target" | jq -r '.health')
[ "$health" = up ] || fail "the scrape target is '$health', not up (last error: $(echo "$target" | jq -r '.lastError'))"

# Types as Prometheus learned them from the page's TYPE lines.
for want in colo_ticks_total:counter colo_evictions_total:counter colo_cgroup_write_failures_total:counter \
            colo_tick_duration_seconds:histogram colo_reaction_seconds:histogram \
            colo_offline_cpu_budget_cores:gauge colo_node_memory_capacity_bytes:gauge colo_build_info:gauge \
            colo_workload_cpu_usage_cores:gauge colo_online_peak_estimate_source:gauge; do
        name=${want%%:*} type=${want#*:}
        got=$(curl -sf "http://127.0.0.1:$prom_port/api/v1/metadata?metric=$name" | jq -r ".data[\"$name\"][0].type // \"missing\"")
        [ "$got" = "$type" ] || fail "$name: Prometheus has type '$got', want '$type'"
done

# Labels: each workload's series with its class and tier; the build info with version and commit.
for w in "$@"; do
        cls=${w%%/*} rest=${w#*/} tier=${rest%%/*} name=${rest#*/}
        n=$(query "colo_workload_cpu_usage_cores{name=\"$name\",class=\"$cls\",tier=\"$tier\"}" | jq '.data.result | length')
        [ "$n" = 1 ] || fail "colo_workload_cpu_usage_cores{name=\"$name\",class=\"$cls\",tier=\"$tier\"}: $n series, want 1"
done
query 'colo_build_info' | jq -e '.data.result[0].metric | (.version | length > 0) and (.commit | length > 0)' >/dev/null ||
        fail "colo_build_info has no version and commit labels"

# Every dashboard expression, as Grafana would send it (its variables at "All"), returns data.
jq -r '.panels[] | .title as $t | .targets[] | "\($t)\t\(.expr)"' "$dashboard" >"$tmp/exprs"
n_exprs=0
while IFS="$(printf '\t')" read -r title expr; do
        q=$(printf '%s' "$expr" | sed 's/\$__rate_interval/1m/g; s/\$instance/.*/g; s/\${instance}/.*/g')
        out=$(query "$q") || fail "dashboard panel '$title': Prometheus refused '$q'"
        [ "$(printf '%s' "$out" | jq '.data.result | length')" -gt 0 ] ||
                fail "dashboard panel '$title': '$q' returned no data"
        n_exprs=$((n_exprs + 1))
done <"$tmp/exprs"
echo "prometheus-scrape: $scrapes scrapes of 127.0.0.1:$agent_port; types and labels as declared; $n_exprs dashboard expressions return data"
