#!/bin/bash
# colo sim on a range-query export from a real Prometheus (Debian's package): generates an
# OpenMetrics file with a gap, a NaN sample, a series that ends (so the query returns it stale)
# and a series without a limit, backfills a TSDB block with promtool, serves it with prometheus
# on 127.0.0.1, queries /api/v1/query_range with curl and checks what colo sim counted.
# Usage: check-prometheus-export.sh COLO [CAPTURE.json]  (CAPTURE: also keep the export there)
# Exits 77 (skip) without prometheus, promtool, curl or jq.
set -eu
colo=$1
capture=${2:-}
for tool in prometheus promtool curl jq; do
        command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool not installed"; exit 77; }
done

work=$(mktemp -d /tmp/colo-prom-XXXXXX)
pid=
cleanup() {
        if [ -n "$pid" ]; then
                kill "$pid" 2>/dev/null || true
                for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                kill -9 "$pid" 2>/dev/null || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT

# 30 h of one sample a minute from t0 (2023-11-14): pods a, b, c on node n1 (limits 2, 1, 1),
# pod d on n2 (limit from the --limits file), pod e on n2 without any limit. b has no samples
# for 30 minutes from 10 h and a NaN at 5 h; c stops at 20 h.
t0=1699920000
awk -v t0=$t0 'BEGIN {
        print "# TYPE colo_cpu_usage_cores gauge"
        for (i = 0; i < 30 * 60; i++) {
                t = t0 + 60 * i
                printf "colo_cpu_usage_cores{limit=\"2\",node=\"n1\",pod=\"a\"} %.4f %d\n", 0.8 + 0.6 * sin(i / 90.0), t
                if (i == 5 * 60)
                        printf "colo_cpu_usage_cores{limit=\"1\",node=\"n1\",pod=\"b\"} NaN %d\n", t
                else if (i < 600 || i >= 630)
                        printf "colo_cpu_usage_cores{limit=\"1\",node=\"n1\",pod=\"b\"} %.4f %d\n", 0.3 + 0.2 * ((i * 7) % 11) / 11, t
                if (i < 20 * 60)
                        printf "colo_cpu_usage_cores{limit=\"1\",node=\"n1\",pod=\"c\"} %.4f %d\n", 0.25, t
                printf "colo_cpu_usage_cores{node=\"n2\",pod=\"d\"} %.4f %d\n", 1.5 + 1.0 * sin(i / 200.0), t
                printf "colo_cpu_usage_cores{node=\"n2\",pod=\"e\"} %.4f %d\n", 0.1, t
        }
        print "# EOF"
}' >"$work/usage.om"
printf '# workload,cores\nd,4\n' >"$work/limits.csv"

promtool tsdb create-blocks-from openmetrics "$work/usage.om" "$work/data" >"$work/promtool.log" 2>&1 ||
        { cat "$work/promtool.log"; exit 1; }
printf 'global:\n  scrape_interval: 1m\n' >"$work/prometheus.yml"

# A free port: try a few above a per-process base until one binds; a bounded wait for readiness.
port=
for try in $(seq 10); do
        candidate=$((20000 + ($$ * 7 + try * 131) % 40000))
        prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
                --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$candidate" \
                >"$work/prometheus.log" 2>&1 &
        pid=$!
        for _ in $(seq 150); do
                # Ours, not some other server on that port: it serves our storage path.
                if [ "$(curl -sf "http://127.0.0.1:$candidate/api/v1/status/flags" 2>/dev/null |
                        jq -r '.data["storage.tsdb.path"]' 2>/dev/null)" = "$work/data" ] &&
                   curl -sf "http://127.0.0.1:$candidate/-/ready" >/dev/null 2>&1; then
                        port=$candidate
                        break
                fi
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.2
        done
        [ -n "$port" ] && break
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=
done
[ -n "$port" ] || { echo "prometheus did not become ready"; cat "$work/prometheus.log"; exit 1; }

curl -sf --max-time 30 --get "http://127.0.0.1:$port/api/v1/query_range" \
        --data-urlencode 'query=colo_cpu_usage_cores' --data-urlencode "start=$t0" \
        --data-urlencode "end=$((t0 + 30 * 3600 - 60))" --data-urlencode 'step=300' >"$work/export.json"
[ -z "$capture" ] || cp "$work/export.json" "$capture"
[ "$(jq -r '.data.result | length' "$work/export.json")" = 5 ] || { echo "expected 5 series:"; head -c 600 "$work/export.json"; exit 1; }

"$colo" sim "$work/export.json" --limits "$work/limits.csv" --warmup 1h --json >"$work/sim.json"
fail=0
check() {
        got=$(jq -r "$1" "$work/sim.json")
        if [ "$got" != "$2" ]; then echo "FAIL: $1 = $got, want $2"; fail=1; else echo "ok: $1 = $got"; fi
}
check '.format' prometheus
check '.nodes' 2
check '.prometheus.series' 4
check '.prometheus.series_without_limit' 1
check '.prometheus.series_ended' 1
check '.prometheus.values_not_finite' 1
check '(.prometheus.readings_carried + .prometheus.readings_absent) >= 6' true
check '.predictors | map(select(.name == "oracle"))[0].goodput_vs_oracle' 1
check '.predictors | map(select(.name == "colo")) | length' 1
check '.elastic_bound > .oracle_goodput and .oracle_goodput > 0' true
"$colo" sim "$work/export.json" --limits "$work/limits.csv" --warmup 1h >"$work/sim.txt"
grep -q "4 series used, 1 without a limit skipped, 1 ended early" "$work/sim.txt" || { cat "$work/sim.txt"; fail=1; }
exit $fail
