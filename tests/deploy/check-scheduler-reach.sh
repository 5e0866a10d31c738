#!/bin/sh
# The shipped kube-scheduler configuration must reach the shipped extender as it is: kubeadm's
# kube-scheduler runs on the host network, so the extender has to listen on the same host's
# loopback address and port that urlPrefix names, from a host-network DaemonSet placed on the
# control-plane nodes. Fails naming the file and the value that disagrees.
set -eu
deploy="${1:?usage: check-scheduler-reach.sh DEPLOY_DIR}"
config="$deploy/kubernetes/scheduler/kube-scheduler-config.yaml"
extender="$deploy/kubernetes/50-extender.yaml"
fail() { echo "check-scheduler-reach: $*" >&2; exit 1; }

url=$(sed -n 's/^ *- *urlPrefix: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$config")
[ -n "$url" ] || fail "$config: no extenders[].urlPrefix"
[ "$(printf '%s\n' "$url" | wc -l)" -eq 1 ] || fail "$config: more than one urlPrefix"
case "$url" in
http://*) hostport=${url#http://} ;;
https://*) hostport=${url#https://} ;;
*) fail "$config: urlPrefix '$url' is not an http(s) URL" ;;
esac
hostport=${hostport%%/*}

listen=$(sed -n 's/^ *- *--listen=\(.*\)$/\1/p' "$extender")
[ -n "$listen" ] || fail "$extender: the extender has no --listen argument"
[ "$listen" = "$hostport" ] ||
        fail "urlPrefix '$url' ($config) does not name the extender's --listen=$listen ($extender)"
case "$listen" in
127.*:*|localhost:*) ;;
*) fail "$extender: --listen=$listen is not a loopback address, which a host-network kube-scheduler would need a Service or DNS name for" ;;
esac

grep -q '^kind: DaemonSet$' "$extender" || fail "$extender: the extender is not a DaemonSet"
grep -q '^ *hostNetwork: true$' "$extender" ||
        fail "$extender: without hostNetwork: true, 127.0.0.1 is the pod's own loopback, not the node's"
grep -q '^ *node-role.kubernetes.io/control-plane: ""$' "$extender" ||
        fail "$extender: not placed on the control-plane nodes, where kube-scheduler runs"
grep -q '^ *- key: node-role.kubernetes.io/control-plane$' "$extender" ||
        fail "$extender: does not tolerate the control-plane taint"
echo "check-scheduler-reach: $url is the extender's --listen, host network, control-plane nodes"
