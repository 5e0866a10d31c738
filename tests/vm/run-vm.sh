#!/bin/sh
# Boots the VM once and runs every integration test of a build inside it, as root under systemd
# on cgroup v2; the results land in BUILD_DIR/vm/results/<test>.{rc,log}.
#
#     [COLO_VM_TESTS="NAME..."] run-vm.sh [--if-stale] BUILD_DIR [TIMEOUT_S]
#
# --if-stale reuses the results of an earlier run of the same test build and image (their hash
# is in results/key) instead of booting again. One run per build directory at a time (flock).
#
# The test build goes to the guest on a second disk (data.ext4: the tests' files at their host
# paths, a manifest, the guest's run script); the guest writes the results onto it and powers
# off; debugfs copies them out (no loop mount). qemu runs under TCG (KVM hangs on these hosts)
# and is killed by its PID after TIMEOUT_S (default 1500: every integration test runs there, and on
# a loaded 2-CPU host the emulated run has taken 15 minutes) or when this script exits.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if_stale=false
[ "$1" = --if-stale ] && if_stale=true && shift
build=$(cd "$1" && pwd)
timeout_s=${2:-1500}
vm="$build/vm"
mkdir -p "$vm"
exec 8>"$vm/run.lock"
flock 8

image=$("$here/build-image.sh" "$vm/cache")
staging="$vm/staging"
results="$vm/results"
# COLO_VM_TESTS="agent-cpu k8s-agent" runs only those: the meson tests of suite vm pass the list
# that tests/integration/meson.build keeps; unset, every integration test goes in.
tests=$(meson introspect --tests "$build" | jq -c --arg only "${COLO_VM_TESTS:-}" \
        '.[] | select(.suite | index("colo:integration")) | select($only == "" or (.name | IN($only | split(" ")[])))')
# Every argument of a test that names a file of the build goes to the guest, at its host path.
files=$(echo "$tests" | jq -r '.cmd[]' | while IFS= read -r a; do
        case $a in /*) f=$a ;; *) f="$build/$a" ;; esac
        [ -f "$f" ] && echo "$f"
done | LC_ALL=C sort -u)

# What the results depend on: the image, the guest's script, the test list and the files' stamps.
key=$( (echo "$image"; cat "$here/guest-run.sh"; echo "$tests"; env | grep -E '^(ASAN|UBSAN|LSAN)_OPTIONS=' || true
        echo "$files" | xargs stat -c '%n %s %Y') | sha256sum | cut -c1-32)
if $if_stale && [ "$(cat "$results/key" 2>/dev/null)" = "$key" ]; then
        # A failed run of this same build is not retried by every vm-<test> (each would boot again).
        [ -f "$results/done" ] && exit 0
        [ -f "$results/failed" ] && cat "$results/failed" >&2 && exit 1
fi
rm -rf "$staging" "$results" "$vm/data.ext4"
mkdir -p "$staging/root" "$staging/tests" "$staging/results"
install -m 0755 "$here/guest-run.sh" "$staging/run"
for f in $files; do
        mkdir -p "$staging/root$(dirname "$f")"
        cp -p "$f" "$staging/root$f"
done
# The manifest: one directory per integration test with its argv (one per line), working
# directory, timeout and environment, from meson's own test list.
echo "$tests" | while IFS= read -r t; do
        name=$(echo "$t" | jq -r .name)
        mkdir -p "$staging/tests/$name"
        echo "$t" | jq -r '.cmd[]' >"$staging/tests/$name/argv"
        echo "$t" | jq -r '.workdir // empty' >"$staging/tests/$name/workdir"
        [ -s "$staging/tests/$name/workdir" ] || echo "$build" >"$staging/tests/$name/workdir"
        echo "$t" | jq -r '.timeout' >"$staging/tests/$name/timeout"
        echo "$t" | jq -r '.env | to_entries[] | "\(.key)=\(.value)"' >"$staging/tests/$name/env"
done
# The sanitizer settings of this run (make test sets them) apply inside too.
env | grep -E '^(ASAN|UBSAN|LSAN)_OPTIONS=' >"$staging/env" || true
# The guest's CPUs are emulated (and share the host with whatever else runs): tests that wait for
# something with an upper bound wait up to 10 times as long there.
echo COLO_TEST_TIMEOUT_SCALE=10 >>"$staging/env"
# Tests that change the machine itself (top-level slices, systemctl daemon-reload) run only here.
echo COLO_TEST_IN_VM=1 >>"$staging/env"
mkfs.ext4 -q -F -L colo-data -d "$staging" "$vm/data.ext4" 512M >/dev/null

# Records the failure under this build's key, so that the vm-<test> tests report it instead of
# booting again one after the other.
fail() {
        mkdir -p "$results"
        echo "$key" >"$results/key"
        echo "run-vm: $1" | tee "$results/failed" >&2
        exit 1
}

qemu_pid=
cleanup() {
        if [ -n "$qemu_pid" ]; then
                kill -KILL "$qemu_pid" 2>/dev/null || true
                wait "$qemu_pid" 2>/dev/null || true
        fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

start=$(date +%s)
# -snapshot: the cached image stays as built; the guest's writes to it go to a temporary file.
qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 2G -smp 2 -nographic -no-reboot \
        -nic none -snapshot \
        -kernel "$image.vmlinuz" -initrd "$image.initrd" \
        -append "console=ttyS0 root=/dev/vda rw panic=-1 systemd.unified_cgroup_hierarchy=1 systemd.show_status=0" \
        -drive "file=$image.ext4,format=raw,if=virtio" \
        -drive "file=$vm/data.ext4,format=raw,if=virtio,snapshot=off" \
        </dev/null >"$vm/console.log" 2>&1 &
qemu_pid=$!
while kill -0 "$qemu_pid" 2>/dev/null; do
        if [ $(($(date +%s) - start)) -ge "$timeout_s" ]; then
                cleanup
                qemu_pid=
                fail "the VM did not power off within $timeout_s s; killed (console: $vm/console.log)"
        fi
        sleep 1
done
wait "$qemu_pid" || true
qemu_pid=
echo "run-vm: VM ran $(($(date +%s) - start)) s" >&2

rm -rf "$vm/incoming"
mkdir -p "$vm/incoming"
debugfs -R "rdump /results $vm/incoming" "$vm/data.ext4" >/dev/null 2>&1
if [ ! -f "$vm/incoming/results/done" ]; then
        tail -n 40 "$vm/console.log" >&2
        fail "the guest did not finish its test run (console above, all of it in $vm/console.log)"
fi
echo "$key" >"$vm/incoming/results/key"
mv "$vm/incoming/results" "$results"
rmdir "$vm/incoming"
