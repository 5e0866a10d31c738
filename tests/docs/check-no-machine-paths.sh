#!/bin/sh
# The README and docs/ are read on other machines: a path of the machine a figure was made on
# (a home or work directory) means nothing there. Commands name paths relative to the repository
# (../shared/traces, build/colo). Fails listing each file:line.
set -eu
src="${1:?usage: check-no-machine-paths.sh SOURCE_DIR}"
if grep -nE '(^|[^.A-Za-z0-9_])/(work|root|home|old_root|Users)/' "$src/README.md" "$src"/docs/*.md; then
        echo "check-no-machine-paths: the lines above name a path of a particular machine" >&2
        exit 1
fi
echo "check-no-machine-paths: README.md and docs/*.md name no machine's paths"
