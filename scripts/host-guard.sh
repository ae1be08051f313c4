#!/usr/bin/env bash
# Proves the test suite left the host alone: snapshots the root network
# namespace's ruleset, addresses and routes (read-only) and, after the tests,
# fails if anything differs or a test namespace was left behind.
#   scripts/host-guard.sh snapshot DIR   |   scripts/host-guard.sh verify DIR
set -euo pipefail
mode=$1 dir=$2
snap() {
  nft list ruleset
  ip -br addr
  ip route show table all
  ip -6 route show table all
}
case $mode in
  snapshot)
    mkdir -p "$dir"
    snap >"$dir/host.before"
    ls /run/netns 2>/dev/null | grep -E '^leash-' >"$dir/netns.before" || true
    ;;
  verify)
    snap >"$dir/host.after"
    if ! diff -u "$dir/host.before" "$dir/host.after"; then
      echo "host-guard: the tests changed the host's root network namespace" >&2
      exit 1
    fi
    # Namespaces that were there before the run (another run's leftovers,
    # or a concurrent one's) are named but not this run's fault.
    old=$(cat "$dir/netns.before" 2>/dev/null || true)
    left=$(ls /run/netns 2>/dev/null | grep -E '^leash-' | grep -vxF -e "${old:-//none//}" || true)
    if [ -n "$old" ]; then
      echo "host-guard: note: test namespaces that were there before the tests: $old" >&2
    fi
    if [ -n "$left" ]; then
      echo "host-guard: test namespaces left behind: $left" >&2
      exit 1
    fi
    echo "host-guard: root network namespace unchanged, no namespaces left behind"
    ;;
  *) echo "usage: $0 snapshot|verify DIR" >&2; exit 2 ;;
esac
