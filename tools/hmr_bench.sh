#!/bin/sh
# hmr_bench.sh [BENCH_BINARY [NKEYS]] - run the HMR/LMDB B-tree benchmark
# under callgrind and print "bench <name> <instructions per operation>".
# Callgrind counts instructions, so the numbers do not depend on load.
bin=${1:-build/host/hmr_bench}
n=${2:-1000000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if ! command -v valgrind >/dev/null 2>&1; then
	echo "bench hmr skipped: valgrind is not installed"
	exec "$bin" "$n" "$dir"
fi
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
	"$bin" "$n" "$dir" >"$dir/stdout" 2>"$dir/stderr" || {
	cat "$dir/stderr"; exit 1; }
for f in "$dir"/cg.out.*; do
	name=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
	ir=$(sed -n 's/^summary: //p' "$f" | cut -d' ' -f1)
	[ -n "$name" ] && echo "bench $name $((ir / n))"
done
grep '^bench\|^info' "$dir/stdout"
