#!/usr/bin/env bash
# Times the hand-offs of a serial setData through a standalone zkgo server
# (issue 19; internal/hoptrace): builds zkgo with the hoptrace tag, starts it
# on a fresh data dir, warms it up, runs `zkgo bench run` with one connection
# and one request in flight, and prints the server's table of the steps
# (p10/p50/p90/mean µs) and mntr's fsync figures. Usage:
#   bench/hoptrace.sh [duration] [port]     (defaults: 10s, 21899)
# `make hoptrace` runs it. Not part of make test or make bench.
set -euo pipefail
DUR=${1:-10s}
PORT=${2:-21899}
cd "$(dirname "$0")/.."
go build -tags hoptrace -o bin/zkgo-hoptrace ./cmd/zkgo
go build -o bin/zkgo ./cmd/zkgo
D=$(mktemp -d)
SP=
cleanup() {
	if [ -n "$SP" ]; then kill "$SP" 2>/dev/null || true; wait "$SP" 2>/dev/null || true; fi
	rm -rf "$D"
}
trap cleanup EXIT
cat >"$D/zoo.cfg" <<CFG
tickTime=2000
dataDir=$D/data
clientPort=$PORT
maxClientCnxns=0
4lw.commands.whitelist=*
CFG
bin/zkgo-hoptrace server --config "$D/zoo.cfg" >"$D/server.log" 2>&1 &
SP=$!
for _ in $(seq 50); do
	if echo ruok | nc -q1 127.0.0.1 "$PORT" 2>/dev/null | grep -q imok; then break; fi
	sleep 0.1
done
# Warm-up as make bench does (a read load, then writes), then start the
# table over (SIGUSR1 prints it and clears it).
bin/zkgo bench run --addr "127.0.0.1:$PORT" --mix 90/10 --conns 16 --depth 8 --duration 3s --warmup 0s --quiet >/dev/null
bin/zkgo bench run --addr "127.0.0.1:$PORT" --mix set --conns 1 --depth 1 --duration 1s --warmup 0s --quiet --no-setup >/dev/null
kill -USR1 "$SP"
sleep 0.3
f0=$(echo mntr | nc -q1 127.0.0.1 "$PORT" | awk '$1=="zk_cnt_fsynctime"{c=$2} $1=="zk_sum_fsynctime"{s=$2} END{print c, s}')
bin/zkgo bench run --addr "127.0.0.1:$PORT" --mix set --conns 1 --depth 1 --duration "$DUR" --warmup 0s --quiet --no-setup
f1=$(echo mntr | nc -q1 127.0.0.1 "$PORT" | awk '$1=="zk_cnt_fsynctime"{c=$2} $1=="zk_sum_fsynctime"{s=$2} END{print c, s}')
read -r c0 s0 <<<"$f0"
read -r c1 s1 <<<"$f1"
# zk_sum_fsynctime is in ms with µs precision (bench/README.md).
awk -v c="$((c1 - c0))" -v s0="$s0" -v s1="$s1" 'BEGIN{if (c > 0) printf "fsyncs: %d, mean fsync (write + fdatasync): %.1f µs\n", c, (s1-s0)*1000/c}'
kill -USR1 "$SP"
sleep 0.3
awk '/^hoptrace:/{n++} n==2 && !/^\{/' "$D/server.log"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
