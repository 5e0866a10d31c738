#!/bin/sh
# Installs colo's build and test dependencies from Debian's packages (run as root).
# Skips apt entirely when everything is already there, so repeated runs are fast.
set -eu
pkgs="meson ninja-build pkg-config gcc clang libclang-rt-14-dev libjansson-dev libcurl4-openssl-dev
      libmicrohttpd-dev libgnutls28-dev libyajl-dev libyaml-dev zlib1g-dev libsystemd-dev libcmocka-dev memcached gnuplot-nox procps jq curl
      scdoc bash-completion systemd debhelper fakeroot dpkg-dev git prometheus
      libncurses-dev tmux golang-go openssl fio bc
      qemu-system-x86 debootstrap e2fsprogs"
missing=""
for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# The schema tests (tests/schema) run on Node.js with npm, which install their own npm packages.
# Checked by command, not package: a machine's nodejs may bring npm itself (and then conflicts
# with Debian's npm package).
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing Debian packages:$missing (run as root)" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
