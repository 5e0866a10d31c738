#!/bin/sh
# Exits 77 (meson's SKIP) with the reason when this host cannot run the VM tests; make test
# installs what they need through scripts/install-deps.sh.
if [ "$(id -u)" != 0 ]; then
        echo "SKIP: the VM tests need root (debootstrap, chroot)"
        exit 77
fi
for tool in qemu-system-x86_64 debootstrap mkfs.ext4 debugfs jq flock; do
        if ! command -v "$tool" >/dev/null 2>&1; then
                echo "SKIP: $tool is missing (scripts/install-deps.sh installs it)"
                exit 77
        fi
done
exit 0
