#!/bin/sh
# Builds the VM's root file system image from Debian packages, once per package list: the image,
# its kernel and its initramfs are named by a hash of packages.txt, this script and the guest
# unit, so a change to any of them builds a new image and an unchanged one is reused.
#
#     build-image.sh CACHE_DIR     prints CACHE_DIR/colo-vm-<hash> (.ext4, .vmlinuz, .initrd)
#
# Needs root (debootstrap, chroot) and network access to the Debian mirror (MIRROR, SUITE).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=$1
mirror=${MIRROR:-http://deb.debian.org/debian}
suite=${SUITE:-bookworm}
mkdir -p "$cache"
hash=$(cat "$here/packages.txt" "$here/build-image.sh" "$here/colo-vm-tests.service" | sha256sum | cut -c1-16)
base="$cache/colo-vm-$hash"
# One builder per cache directory; a second caller waits and then finds the image.
exec 9>"$cache/build-image.lock"
flock 9
if [ -f "$base.ext4" ] && [ -f "$base.vmlinuz" ] && [ -f "$base.initrd" ]; then
        echo "$base"
        exit 0
fi
rm -f "$cache"/colo-vm-*.ext4 "$cache"/colo-vm-*.vmlinuz "$cache"/colo-vm-*.initrd
rootfs="$cache/rootfs.tmp"
# A debootstrap that failed or was killed can leave /proc, /sys or /dev mounted inside the root
# file system: unmount everything below it first (deepest first), and never let rm cross into
# another file system, so a cleanup can never walk into the host's /proc or /dev.
remove_rootfs() {
        [ -e "$rootfs" ] || return 0
        awk -v root="$(realpath "$rootfs")" 'index($2, root "/") == 1 { print $2 }' /proc/self/mounts |
                sort -r | while read -r m; do umount -l "$m" || true; done
        rm -rf --one-file-system "$rootfs"
}
remove_rootfs
trap 'remove_rootfs; rm -f "$base.ext4.tmp"' EXIT
include=$(grep -v '^#' "$here/packages.txt" | grep . | paste -sd, -)
start=$(date +%s)
debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
        tail -n 30 "$cache/debootstrap.log" >&2
        echo "build-image: debootstrap failed, full log in $cache/debootstrap.log" >&2
        exit 1
}

# A guest that boots straight into the test runner: no logins, no timers, no network.
echo colo-vm >"$rootfs/etc/hostname"
echo '/dev/vda / ext4 rw,noatime 0 1' >"$rootfs/etc/fstab"
install -m 0644 "$here/colo-vm-tests.service" "$rootfs/etc/systemd/system/colo-vm-tests.service"
chroot "$rootfs" systemctl enable colo-vm-tests.service >/dev/null 2>&1
chroot "$rootfs" systemctl set-default multi-user.target >/dev/null 2>&1
for unit in getty@tty1.service serial-getty@ttyS0.service apt-daily.timer apt-daily-upgrade.timer \
            e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer systemd-timesyncd.service; do
        ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/*

cp "$(ls "$rootfs"/boot/vmlinuz-* | head -n 1)" "$base.vmlinuz.tmp"
cp "$(ls "$rootfs"/boot/initrd.img-* | head -n 1)" "$base.initrd.tmp"
# 1 GiB, sparse: the packages take about 400 MB, the rest is room for the tests' temporary files.
mkfs.ext4 -q -F -L colo-vm -d "$rootfs" "$base.ext4.tmp" 1G >/dev/null
mv "$base.vmlinuz.tmp" "$base.vmlinuz"
mv "$base.initrd.tmp" "$base.initrd"
mv "$base.ext4.tmp" "$base.ext4"
echo "build-image: $base.ext4 built in $(($(date +%s) - start)) s" >&2
echo "$base"
