#!/bin/sh
# Runs one schema check: run-node.sh SRC_DIR NPM_DIR SCRIPT [ARGS...]. The first run installs the
# npm packages pinned in SRC_DIR/package-lock.json into NPM_DIR (in the build tree) with `npm ci`;
# later runs use them offline, and reinstall only when the lock file changes. The checks are
# copied next to their node_modules, since ES modules resolve packages from their own location.
set -eu
src=$1 dir=$2
shift 2
if ! command -v node >/dev/null 2>&1; then
        echo "node is not installed (scripts/install-deps.sh installs nodejs): skipping the schema checks"
        exit 77
fi
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9         # the schema tests run in parallel: one installs, the others wait
if ! cmp -s "$src/package-lock.json" "$dir/.installed-lock.json" || [ ! -d "$dir/node_modules" ]; then
        if ! command -v npm >/dev/null 2>&1; then
                echo "npm is not installed (scripts/install-deps.sh installs it)" >&2
                exit 1
        fi
        cp "$src/package.json" "$src/package-lock.json" "$dir/"
        rm -f "$dir/.installed-lock.json"
        echo "installing the schema checks' npm packages into $dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        cp "$src/package-lock.json" "$dir/.installed-lock.json"
fi
# Replace changed files by rename, so a check running meanwhile never reads half a file.
for f in "$src"/*.mjs "$src"/lib/*.mjs; do
        rel=${f#"$src"/}
        mkdir -p "$dir/$(dirname "$rel")"
        if ! cmp -s "$f" "$dir/$rel"; then
                cp "$f" "$dir/$rel.tmp"
                mv "$dir/$rel.tmp" "$dir/$rel"
        fi
done
flock -u 9
script=$1
shift
exec node "$dir/$script" "$@"
