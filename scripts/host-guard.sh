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
  snapshot) mkdir -p "$dir"; snap >"$dir/host.before" ;;
  verify)
    snap >"$dir/host.after"
    if ! diff -u "$dir/host.before" "$dir/host.after"; then
      echo "host-guard: the tests changed the host's root network namespace" >&2
      exit 1
    fi
    left=$(ls /run/netns 2>/dev/null | grep -E '^leash-' || true)
    if [ -n "$left" ]; then
      echo "host-guard: test namespaces left behind: $left" >&2
      exit 1
    fi
    echo "host-guard: root network namespace unchanged, no namespaces left behind"
    ;;
  *) echo "usage: $0 snapshot|verify DIR" >&2; exit 2 ;;
esac
