#!/bin/sh
# Capture the ruleset a real ufw generates, for internal/sandbox's
# coexistence test (testdata/others/ufw.*), without touching the host:
# ufw runs in a throwaway network namespace, with /etc/ufw and
# /etc/default/ufw replaced by copies in a private mount namespace.
# Needs root and Debian's ufw package. Prints nothing to the host's firewall.
#   scripts/capture-ufw.sh OUTDIR
set -eu
out=${1:?usage: capture-ufw.sh OUTDIR}
mkdir -p "$out"
tmp=$(mktemp -d /tmp/leash-ufwcap.XXXXXX)
ns=leash-ufwcap-$$
trap 'ip netns del $ns 2>/dev/null; rm -rf "$tmp"' EXIT
cp -a /etc/ufw "$tmp/ufw"
cp /etc/default/ufw "$tmp/default-ufw"
ip netns add "$ns"
ip -n "$ns" link set lo up
# The interfaces of the sandbox's router: lan0 (the LAN host) and leash0 (upstream).
unshare -m sh -c "
  mount --make-rprivate /
  mount --bind '$tmp/ufw' /etc/ufw
  mount --bind '$tmp/default-ufw' /etc/default/ufw
  ip netns exec '$ns' sh -c '
    ufw --force enable >/dev/null
    ufw default deny routed >/dev/null
    ufw allow 22/tcp >/dev/null
    ufw route allow in on lan0 out on leash0 >/dev/null
    ufw version | head -1 >&2
    iptables-save | grep -v \"^#\" > \"$out/ufw.iptables\"
    ip6tables-save | grep -v \"^#\" > \"$out/ufw.ip6tables\"
  '"
