#!/usr/bin/env bash
# Installs what building and testing leash needs on Debian, if missing:
# iproute2 (sandbox namespaces), nftables (tests inspect the kernel with nft;
# leash itself never runs it), iptables (tests load the rules iptables-nft
# and iptables-legacy really write, to check that leash sees them),
# conntrack, netbase (/etc/services), passwd
# (useradd for test users), prometheus (promtool lints the daemon's
# metrics; curl scrapes them), systemd (systemd-analyze verifies the units; PID 1 need not be
# systemd), and the Go modules. Idempotent; needs root.
set -euo pipefail

need=()
for pkg in iproute2 nftables iptables conntrack netbase passwd ca-certificates prometheus systemd curl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    export PATH=$PATH:/usr/local/go/bin
  else
    echo "deps: installing golang-go from Debian"
    apt-get install -y -qq --no-install-recommends golang-go >/dev/null
  fi
fi
go mod download
