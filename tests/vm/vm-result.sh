#!/bin/sh
# One integration test's result from the VM run, as a meson test: prints the test's log from
# inside the VM and exits with its exit code (0 pass, 77 skip, anything else fails). Boots the
# VM first when there are no results for this test build yet (e.g. `meson test vm-agent-cpu`
# alone); in a whole `meson test` the vm-boot test has just made them.
#
#     vm-result.sh BUILD_DIR TEST_NAME
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$1
name=$2
"$here/vm-preflight.sh" || exit $?
"$here/run-vm.sh" --if-stale "$build" || exit 1
results="$build/vm/results"
if [ ! -f "$results/$name.rc" ]; then
        echo "vm-result: no result for '$name' from the VM (see $build/vm/console.log)" >&2
        exit 1
fi
echo "--- $name inside the VM ($(head -n 1 "$results/guest-info")) ---"
cat "$results/$name.log"
rc=$(cat "$results/$name.rc")
case $rc in
0 | 77) exit "$rc" ;;
*) exit 1 ;;
esac
