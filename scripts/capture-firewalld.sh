#!/bin/sh
# Capture the ruleset a real firewalld generates, for internal/sandbox's
# coexistence test (testdata/others/firewalld.nft), without touching the
# host: firewalld runs in a throwaway network namespace, on a private system
# bus, with /etc/firewalld replaced by a copy in a private mount namespace.
# Needs root and Debian's firewalld package (apt-get install
# --no-install-recommends firewalld).
#   scripts/capture-firewalld.sh OUTDIR
set -u
out=${1:?usage: capture-firewalld.sh OUTDIR}
mkdir -p "$out"
tmp=$(mktemp -d /tmp/leash-fwcap.XXXXXX)
ns=leash-fwcap-$$
cp -a /etc/firewalld "$tmp/etc-firewalld"
mkdir -p "$tmp/run" "$tmp/varlog"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add lan0 type veth peer name leash0
unshare -m sh -c "
  mount --make-rprivate /
  mount --bind '$tmp/etc-firewalld' /etc/firewalld
  mkdir -p /run/dbus '$tmp/run'
  mount --bind '$tmp/run' /run/dbus
  mount --bind '$tmp/varlog' /var/log
  dbus-daemon --system --fork --nopidfile --print-pid > '$tmp/run/pid'
  ip netns exec '$ns' sh -c '
    firewalld --nofork --nopid >/dev/null 2>&1 &
    i=0; while [ \$i -lt 100 ] && ! firewall-cmd --state >/dev/null 2>&1; do sleep 0.2; i=\$((i+1)); done
    firewall-cmd --state
    firewall-cmd --version >&2
    firewall-cmd --permanent --zone=trusted --add-interface=lan0 >/dev/null
    firewall-cmd --permanent --zone=external --add-interface=leash0 >/dev/null
    firewall-cmd --permanent --new-policy lan-out >/dev/null
    firewall-cmd --permanent --policy lan-out --add-ingress-zone trusted >/dev/null
    firewall-cmd --permanent --policy lan-out --add-egress-zone external >/dev/null
    firewall-cmd --permanent --policy lan-out --set-target ACCEPT >/dev/null
    firewall-cmd --reload >/dev/null
    nft list ruleset > \"$out/firewalld.nft\"
    kill %1 2>/dev/null; firewall-cmd --state >/dev/null 2>&1; sleep 1
  '
  kill \$(cat '$tmp/run/pid') 2>/dev/null
"
ip netns del "$ns"
rm -rf "$tmp"
