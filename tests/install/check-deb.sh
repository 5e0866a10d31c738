#!/bin/sh
# Builds the Debian package from a copy of the source tree (dpkg-buildpackage -us -uc -b, as a
# packager would), unpacks it into a scratch root and checks what it holds: the binary answers
# --version, and the unit, the example configuration (a conffile), the man pages and the bash
# completion are where Debian expects them. Skips (77) without dpkg-buildpackage/debhelper.
set -eu
src="${1:?usage: check-deb.sh SOURCE_DIR}"
for tool in dpkg-buildpackage dh git; do
        command -v "$tool" >/dev/null || { echo "check-deb: $tool missing, skipping"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/colo"
# The files of the tree as git sees them (committed or new, never build directories).
git -C "$src" ls-files -z --cached --others --exclude-standard |
        (cd "$src" && xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$tmp/colo"
(cd "$tmp/colo" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1) || {
        tail -40 "$tmp/build.log" >&2
        echo "check-deb: dpkg-buildpackage failed" >&2
        exit 1
}
deb=$(ls "$tmp"/colo_*.deb)
mkdir "$tmp/root"
dpkg-deb -x "$deb" "$tmp/root"
fail=0
for f in usr/bin/colo etc/colo/colo.yaml usr/share/bash-completion/completions/colo \
         usr/share/man/man8/colo.8.gz usr/share/man/man8/colo-agent.8.gz usr/share/man/man8/colo-run.8.gz \
         usr/share/man/man8/colo-status.8.gz usr/share/man/man8/colo-top.8.gz usr/share/man/man8/colo-move.8.gz usr/share/man/man8/colo-sim.8.gz \
         usr/share/man/man8/colo-webhook.8.gz usr/share/man/man8/colo-extender.8.gz; do
        [ -e "$tmp/root/$f" ] || { echo "check-deb: $deb lacks /$f" >&2; fail=1; }
done
unit=$(find "$tmp/root" -name colo.service -path '*systemd/system/*')
[ -n "$unit" ] || { echo "check-deb: $deb has no systemd unit" >&2; fail=1; }
[ -z "$unit" ] || grep -qx 'ExecStart=/usr/bin/colo agent --config /etc/colo/colo.yaml' "$unit" ||
        { echo "check-deb: $unit does not start /usr/bin/colo with /etc/colo/colo.yaml" >&2; fail=1; }
dpkg-deb -e "$deb" "$tmp/control"
grep -qx /etc/colo/colo.yaml "$tmp/control/conffiles" ||
        { echo "check-deb: /etc/colo/colo.yaml is not a conffile" >&2; fail=1; }
version=$("$tmp/root/usr/bin/colo" --version)
want="colo $(dpkg-deb -f "$deb" Version)"
[ "$version" = "$want" ] || { echo "check-deb: colo --version says '$version', the package is '$want'" >&2; fail=1; }
[ "$fail" -eq 0 ] && echo "check-deb: $(basename "$deb") unpacks into a scratch root; $version"
exit "$fail"
