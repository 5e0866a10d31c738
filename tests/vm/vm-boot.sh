#!/bin/sh
# The vm-boot test: builds the image if needed and runs every integration test in one VM boot
# (run-vm.sh); the vm-<test> tests then report the results one by one.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
"$here/vm-preflight.sh" || exit $?
exec "$here/run-vm.sh" "$1"
