#!/bin/sh
# Inside the VM (run by colo-vm-tests.service as root, from /colo-vm, the host's data disk):
# runs each test of /colo-vm/tests in a transient service with Delegate=yes, so it owns a
# cgroup v2 subtree as it would under a real systemd, and records its exit code and output in
# /colo-vm/results. The unit powers the VM off when this script ends.
set -u
d=/colo-vm
res=$d/results
# The test build at its host paths (the root file system is a throwaway snapshot).
cp -a $d/root/. /
{
        uname -a
        systemctl --version | head -n 1
        echo "cgroup2 root controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
        ls /sys/fs/cgroup/cpu.pressure >/dev/null 2>&1 && echo "PSI: yes"
} >$res/guest-info 2>&1
for t in $d/tests/*; do
        name=$(basename "$t")
        set --
        while IFS= read -r a; do set -- "$@" "$a"; done <"$t/argv"
        envs=
        for e in $(cat "$t/env" $d/env); do envs="$envs --setenv=$e"; done
        echo "colo-vm: running $name" >/dev/console
        start=$(date +%s)
        # RuntimeMaxSec bounds a test that hangs; the host's timeout bounds the whole run.
        # shellcheck disable=SC2086
        systemd-run --quiet --wait --pipe --collect --unit="colo-test-$name" \
                -p Delegate=yes -p RuntimeMaxSec="$(cat "$t/timeout")" \
                -p WorkingDirectory="$(cat "$t/workdir")" $envs \
                -- "$@" </dev/null >$res/$name.log 2>&1
        rc=$?
        echo $rc >$res/$name.rc
        # How long each test takes in the guest, for the run's time budget (tests/vm/meson.build).
        echo "colo-vm: $name exit $rc after $(($(date +%s) - start)) s" | tee -a $res/times >/dev/console
done
sync
touch $res/done
sync
