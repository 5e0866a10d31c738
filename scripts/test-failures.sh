#!/bin/sh
# Prints, after a red `meson test`, the end of each failed test's output, so that the last lines
# of a CI log (often all that is kept) say why, not only which. $1: the build directory.
set -eu
log="$1/meson-logs/testlog.json"
[ -f "$log" ] || { echo "test-failures: no $log" >&2; exit 0; }
exec python3 - "$log" <<'PY'
import json, sys
ok = {"OK", "SKIP", "EXPECTEDFAIL"}
failed = [d for d in map(json.loads, open(sys.argv[1], encoding="utf-8", errors="replace")) if d["result"] not in ok]
for d in failed:
    out = ((d.get("stdout") or "") + (d.get("stderr") or "")).splitlines()
    print(f"==== {d['name']}: {d['result']} (exit {d.get('returncode')}); last {min(len(out), 80)} of {len(out)} lines")
    print("\n".join(out[-80:]))
print(f"==== {len(failed)} failed test(s); full log: {sys.argv[1]}")
PY
