#!/bin/sh
# Times `leash apply` (fresh namespace), `leash restore` (twice: replacing
# the table) and `leash status` of one policy file, end to end, in a
# throwaway network namespace with its own state directory, which are
# removed afterwards. Needs root. Run it under the kernel lock when others
# run kernel tests on the machine:
#
#   go run ./bench/genpolicy rules 200 1000 > /tmp/r.yaml
#   go build -o /tmp/leash ./cmd/leash
#   flock /tmp/leash-kernel.lock bench/load.sh /tmp/leash /tmp/r.yaml
#
# Prints one line per command: its wall time and peak RSS (/usr/bin/time),
# and the size of the stored generation.
set -u
if [ $# -ne 2 ]; then
	echo "usage: bench/load.sh LEASH_BINARY POLICY_FILE" >&2
	exit 2
fi
bin=$1 file=$2
ns=leashload$$
dir=$(mktemp -d /tmp/leash-load.XXXXXX) || exit 1
ip netns add "$ns" || exit 1
trap 'ip netns del "$ns"; rm -rf "$dir"' EXIT
ip -n "$ns" link set lo up
run() {
	/usr/bin/time -f "$1 %e s %M KB" "$bin" --state-dir "$dir/state" --netns "$ns" "$@" >/dev/null 2>"$dir/err" ||
		{ cat "$dir/err" >&2; exit 1; }
	tail -1 "$dir/err"
}
run apply "$file"
run restore
run restore
echo "generation.json $(du -m "$dir"/state/generations/*/generation.json | cut -f1) MB"
run status
