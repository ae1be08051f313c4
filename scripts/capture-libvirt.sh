#!/bin/sh
# Capture the ruleset a real libvirtd generates, for internal/sandbox's
# coexistence test (testdata/others/libvirt.iptables), without touching the
# host: libvirtd runs in a throwaway network namespace (its own mount
# namespace from ip netns exec) with /etc/libvirt, /var/lib/libvirt,
# /run/libvirt, /var/log/libvirt and /var/cache/libvirt replaced by
# temporary directories, starts the default network, and is stopped.
# Needs root and Debian's libvirt-daemon-system, libvirt-clients and
# dnsmasq-base packages.
#   scripts/capture-libvirt.sh OUTDIR
set -u
out=${1:?usage: capture-libvirt.sh OUTDIR}
mkdir -p "$out"
tmp=$(mktemp -d /tmp/leash-lvcap.XXXXXX)
ns=leash-lvcap-$$
cp -a /etc/libvirt "$tmp/etc"
mkdir -p "$tmp/lib" "$tmp/run" "$tmp/log" "$tmp/cache"
made_run=
[ -d /run/libvirt ] || { mkdir /run/libvirt; made_run=1; }
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add lan0 type veth peer name leash0
ip netns exec "$ns" sh -c "
  mount --bind '$tmp/etc' /etc/libvirt
  mount --bind '$tmp/lib' /var/lib/libvirt
  mount --bind '$tmp/run' /run/libvirt
  mount --bind '$tmp/log' /var/log/libvirt
  mount --bind '$tmp/cache' /var/cache/libvirt
  mount -t cgroup2 none /sys/fs/cgroup
  libvirtd --pid-file '$tmp/libvirtd.pid' >'$tmp/libvirtd.log' 2>&1 &
  i=0; while [ \$i -lt 100 ] && ! virsh -c network:///system net-list --all >/dev/null 2>&1; do sleep 0.2; i=\$((i+1)); done
  virsh -c network:///system net-list --all >&2
  virsh -c network:///system net-start default >&2
  iptables-save | grep -v '^#' > '$out/libvirt.iptables'
  virsh -c network:///system net-destroy default >/dev/null 2>&1
  kill \$(cat '$tmp/libvirtd.pid') 2>/dev/null; sleep 1
"
tail -5 "$tmp/libvirtd.log" >&2
ip netns del "$ns"
rm -rf "$tmp"
[ -z "$made_run" ] || rmdir /run/libvirt
