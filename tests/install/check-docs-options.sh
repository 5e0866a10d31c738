#!/bin/sh
# The man pages (man/colo-COMMAND.8.scd) and the bash completion (completions/colo.bash) list
# exactly the long options that `colo COMMAND --help` prints, so neither drifts from the code.
# Fails naming the file and each option that is missing or extra.
set -eu
colo="${1:?usage: check-docs-options.sh COLO SOURCE_DIR}"
src="${2:?usage: check-docs-options.sh COLO SOURCE_DIR}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

options() { grep -oE -- '--[a-z][a-z0-9-]*' | grep -vx -- '--help' | sort -u; }

compare() { # what file
        if ! diff -u "$tmp/help" "$tmp/$1" >"$tmp/diff"; then
                echo "check-docs-options: $2 and 'colo $verb --help' disagree (- help only, + $2 only):" >&2
                grep -E '^[-+]--[a-z]' "$tmp/diff" >&2
                status=1
        fi
}

for verb in agent run status top move sim webhook extender; do
        "$colo" "$verb" --help | options >"$tmp/help"
        [ -s "$tmp/help" ] || { echo "check-docs-options: 'colo $verb --help' lists no option" >&2; exit 1; }
        page="$src/man/colo-$verb.8.scd"
        [ -f "$page" ] || { echo "check-docs-options: $page is missing" >&2; status=1; continue; }
        # The OPTIONS section only: other sections may mention options in passing.
        sed -n '/^# OPTIONS/,/^# [A-Z]/p' "$page" | options >"$tmp/man"
        compare man "$page"
        # The completion's opts="..." list of this verb's case arm (it may span lines).
        awk -v verb="$verb" '
                $0 ~ "^[ \t]*" verb "\\)" { on = 1 }
                on { print; if ($0 ~ /;;/) exit }' "$src/completions/colo.bash" | options >"$tmp/completion"
        compare completion "$src/completions/colo.bash"
done
[ "$status" -eq 0 ] && echo "check-docs-options: man pages and completion match every command's --help"
exit "$status"
