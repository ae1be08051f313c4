#!/usr/bin/env bash
# Runs leash's benchmarks as root and writes the results to bench/out/:
#   go-bench-STAMP.txt    go test -bench: Load (internal/policy), Compile (internal/compile),
#                         Validate (internal/ruleset), Apply and ReadAddrs (internal/nft), with
#                         allocations; the *Shapes benchmarks are issue 16's large policy files
#                         (bench/benchpolicy), ReadAddrs pairs Read with `nft list` (read/nft)
#   egress-STAMP.txt/json the egress benchmark (bench/egress): UDP packet rate and
#                         TCP connect rate under the compiled policy vs no ruleset
# Extra arguments go to bench/egress (e.g. -rounds 10 -d 2s); see its -help.
# Everything happens in throwaway network namespaces; the root namespace's
# ruleset is compared before and after (read-only) to prove it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
if [ "$(id -u)" != 0 ]; then
  echo "bench/run.sh: needs root (namespaces, nftables, setfsuid): sudo bench/run.sh" >&2
  exit 1
fi
out=bench/out
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
nft list ruleset >"$out/host-ruleset.before"
# The veth path uses leash's sandbox (namespaces leash-sbx-*): compare the
# list before and after rather than guess the egress program's pid.
sandboxes() { ls /run/netns 2>/dev/null | grep '^leash-sbx-' || true; }
sandboxes >"$out/sandboxes.before"

go build -o "$out/egress" ./bench/egress
go test -run '^$' -bench 'BenchmarkLoad|BenchmarkCompile|BenchmarkValidate|BenchmarkApply|BenchmarkReadAddrs' \
  -benchtime 3x -count 1 -benchmem -timeout 60m \
  ./internal/policy ./internal/compile ./internal/ruleset ./internal/nft | tee "$out/go-bench-$stamp.txt"
"$out/egress" -json "$out/egress-$stamp.json" "$@" | tee "$out/egress-$stamp.txt"

nft list ruleset >"$out/host-ruleset.after"
if ! diff -u "$out/host-ruleset.before" "$out/host-ruleset.after"; then
  echo "bench/run.sh: the root namespace's ruleset changed during the run" >&2
  exit 1
fi
if ls /run/netns 2>/dev/null | grep -q '^leashbench-' ||
  ! sandboxes | diff -q "$out/sandboxes.before" - >/dev/null; then
  echo "bench/run.sh: benchmark namespaces left behind in /run/netns" >&2
  exit 1
fi
echo "bench/run.sh: root namespace ruleset unchanged, no namespaces left; results in $out/*-$stamp.*"
