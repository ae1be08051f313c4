#!/bin/sh
# Capture the ruleset a real dockerd generates, for internal/sandbox's
# coexistence test (testdata/others/docker*.iptables), without touching the
# host: dockerd runs in a throwaway network namespace (its own mount
# namespace from ip netns exec, with cgroup2 mounted at /sys/fs/cgroup there)
# with its data and exec roots in a temporary directory, and is stopped once
# its chains exist. Needs root and Debian's docker.io package.
#   scripts/capture-docker.sh OUTDIR
set -u
out=${1:?usage: capture-docker.sh OUTDIR}
mkdir -p "$out"
tmp=$(mktemp -d /tmp/leash-dockcap.XXXXXX)
ns=leash-dockcap-$$
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add lan0 type veth peer name leash0
ip -n "$ns" link set lan0 up
ip -n "$ns" link set leash0 up
ip netns exec "$ns" sh -c "
  mount -t cgroup2 none /sys/fs/cgroup
  dockerd --data-root '$tmp/data' --exec-root '$tmp/exec' --pidfile '$tmp/dockerd.pid' \
    -H 'unix://$tmp/docker.sock' >'$tmp/dockerd.log' 2>&1 &
  i=0; while [ \$i -lt 150 ] && ! iptables-save 2>/dev/null | grep -q DOCKER-USER; do sleep 0.2; i=\$((i+1)); done
  sleep 1
  iptables-save | grep -v '^#' > '$out/docker.iptables'
  kill \$(cat '$tmp/dockerd.pid') 2>/dev/null
  j=0; while [ \$j -lt 100 ] && [ -e '$tmp/dockerd.pid' ]; do sleep 0.1; j=\$((j+1)); done
"
tail -3 "$tmp/dockerd.log" >&2
ip netns del "$ns"
rm -rf "$tmp"
