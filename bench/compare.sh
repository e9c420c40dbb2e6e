#!/usr/bin/env bash
# bench/compare.sh -- mpbroker beside its peers, in one interleaved run on
# this machine:
#
#   mpbroker    mpb-bench (libmpb, real client processes)
#   nng-echo    mpb-bench --target echo against mpb-echo-server: the same
#               frames and client path with no broker (the transport floor)
#   redis       mpb-redis-bench (hiredis) against Debian's redis-server on
#               a unix socket, persistence off
#   py-manager  bench/mp_manager_bench.py on Debian's python3
#               (multiprocessing.Manager queues)
#
# For each mode (pinned: every process under `taskset -c 0`; free: no
# pinning) and each client configuration it runs the four peers back to
# back (plus, where P > 1, mpbroker through libmpb's asynchronous calls:
# mpb-bench -A, one handle per client with P calls in flight, labelled
# mpbroker-async), then mpbroker with batches (-B 64 requests per frame:
# libmpb's mpb_batch, beside Redis -P 64), then 256 clients at once; then
# (free mode) priority put+get with
# 1,000 and 1,000,000 items standing, and the memory per queued item.  It
# prints one table with every peer's numbers, mpbroker's ratio to each,
# and the issue's targets marked met or MISSED.
#
# usage: bench/compare.sh [-n REQUESTS] [--quick] [--modes "pinned free"]
#            [--configs "1x1 8x1 1x64 8x8"]
#            [--tests fifo,lifo,priority,dict,incr,list]
#            [--many N] [--standing N] [--mem-items N] [--no-memory]
#            [--no-standing] [--batch N] [--batch-clients "1"] [--no-async]
#            [--out DIR] [--build DIR]
#
# --batch N: requests per batch frame in the batched mpbroker row (default
# 64, to match Redis -P 64; 0 leaves the row out); --batch-clients: the
# client counts it runs with (default "1").  --no-async leaves out the
# mpbroker-async rows.  --tests: the workloads of the matrix, async and
# batch rows (default all six; the echo floor has the queue ones only,
# and -A has no list).
#
# Defaults take about 4-5 minutes on 2 vCPUs.  Installs redis-server,
# libhiredis-dev and python3 with apt-get if (and only if) missing.
# Servers it starts are stopped by their PIDs; traffic stays on unix
# sockets in a private directory under /tmp.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
N=20000
MODES="pinned free"
CONFIGS="1x1 8x1 1x64 8x8"
MANY=256
STANDING=1000000
STANDING_LOW=1000
MEM_ITEMS=1000000
DO_MEM=1
DO_STANDING=1
BATCH=64
BATCH_CLIENTS=1
ASYNC=1
TESTS=fifo,lifo,priority,dict,incr,list
OUT=

usage() { sed -n '2,41p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case "$1" in
	-n) N=$2; shift 2 ;;
	--quick) N=4000; STANDING=100000; MEM_ITEMS=100000; CONFIGS="1x1 8x1 1x64"; MANY=64; shift ;;
	--modes) MODES=$2; shift 2 ;;
	--configs) CONFIGS=$2; shift 2 ;;
	--many) MANY=$2; shift 2 ;;
	--standing) STANDING=$2; shift 2 ;;
	--mem-items) MEM_ITEMS=$2; shift 2 ;;
	--no-memory) DO_MEM=0; shift ;;
	--no-standing) DO_STANDING=0; shift ;;
	--batch) BATCH=$2; shift 2 ;;
	--batch-clients) BATCH_CLIENTS=$2; shift 2 ;;
	--no-async) ASYNC=0; shift ;;
	--tests) TESTS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done

# --- packages (only what is missing) -----------------------------------
need=()
for p in redis-server libhiredis-dev python3 pkg-config cmake gcc libnng-dev \
	libmsgpack-dev libmbedtls-dev; do
	dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "compare.sh: installing ${need[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
PY=/usr/bin/python3 # Debian's, not whatever python3 is first on PATH

# --- build --------------------------------------------------------------
cmake -S "$ROOT" -B "$BUILD" >/dev/null
if ! grep -q 'HIREDIS_FOUND:INTERNAL=1' "$BUILD/CMakeCache.txt"; then
	# configured before hiredis was installed: look again
	cmake -U 'HIREDIS*' -U '__pkg_config_checked_HIREDIS' "$BUILD" >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target mpbroker mpb-bench mpb-echo-server \
	mpb-redis-bench >/dev/null
BIN=$BUILD/bin

WORK=$(mktemp -d /tmp/mpbcmp-XXXXXX)
OUT=${OUT:-$WORK}
mkdir -p "$OUT"
CSV=$OUT/results.csv
LOG=$OUT/run.log
: >"$LOG"
echo "test,mode,peer,workload,mode2,clients,inflight,payload,prefill,ops,errors,seconds,ops_per_s,p50_us,p99_us,p999_us,rss_kb,bytes_per_item,note" >"$CSV"

REDIS_PID=
stop_redis() {
	if [ -n "$REDIS_PID" ]; then
		kill "$REDIS_PID" 2>/dev/null || true
		wait "$REDIS_PID" 2>/dev/null || true
		REDIS_PID=
	fi
}
cleanup() { stop_redis; rm -f "$WORK"/redis.sock; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_redis PINPREFIX: a fresh redis-server on $WORK/redis.sock
start_redis() {
	stop_redis
	rm -f "$WORK/redis.sock"
	$1 redis-server --save '' --appendonly no --port 0 \
		--unixsocket "$WORK/redis.sock" --unixsocketperm 700 \
		--daemonize no --logfile "$WORK/redis.log" &
	REDIS_PID=$!
	for _ in $(seq 100); do
		[ -S "$WORK/redis.sock" ] && return 0
		sleep 0.1
	done
	echo "compare.sh: redis-server did not start (see $WORK/redis.log)" >&2
	exit 1
}

FAILED=0
# record TEST MODE CMD...: run one tool with --csv, append its rows
record() {
	local test=$1 mode=$2
	shift 2
	echo "+ $*" >>"$LOG"
	local out
	if ! out=$("$@" --csv 2>>"$LOG"); then
		FAILED=$((FAILED + 1))
		echo "compare.sh: FAILED ($test/$mode): $*" >&2
	fi
	printf '%s\n' "$out" | tail -n +2 | sed "s/^/$test,$mode,/" >>"$CSV"
	printf '%s\n' "$out" | tail -n +2 | cut -d, -f1-4,6,7,11 | sed "s/^/  [$mode] /" >&2
}

T0=$(date +%s)
for mode in $MODES; do
	case $mode in
	pinned) PIN="taskset -c 0" ;;
	free) PIN= ;;
	*) echo "compare.sh: mode is pinned or free" >&2; exit 2 ;;
	esac
	start_redis "$PIN"
	echo "== $mode" >&2
	for cfg in $CONFIGS; do
		c=${cfg%x*}
		P=${cfg#*x}
		# Every peer has every workload but the echo floor, which has
		# the queue frames only, and -A, which has no list calls.
		common=(-c "$c" -P "$P" -n "$N" -t "$TESTS")
		record matrix "$mode" $PIN "$BIN/mpb-bench" "${common[@]}" \
			--spawn-broker "$BIN/mpbroker"
		if [ "$ASYNC" = 1 ] && [ "$P" -gt 1 ]; then
			record async "$mode" $PIN "$BIN/mpb-bench" "${common[@]}" -A \
				--spawn-broker "$BIN/mpbroker" --label mpbroker-async
		fi
		record matrix "$mode" $PIN "$BIN/mpb-bench" "${common[@]}" --target echo \
			--spawn-broker "$BIN/mpb-echo-server"
		record matrix "$mode" $PIN "$BIN/mpb-redis-bench" "${common[@]}" \
			-s "$WORK/redis.sock" --redis-pid "$REDIS_PID"
		record matrix "$mode" $PIN $PY "$ROOT/bench/mp_manager_bench.py" "${common[@]}"
	done
	if [ "$BATCH" -gt 0 ]; then
		for bc in $BATCH_CLIENTS; do
			record batch "$mode" $PIN "$BIN/mpb-bench" -c "$bc" -B "$BATCH" -n "$N" \
				-t "$TESTS" --spawn-broker "$BIN/mpbroker" \
				--label "mpbroker-B$BATCH"
		done
	fi
	if [ "$MANY" -gt 0 ]; then
		record many "$mode" $PIN "$BIN/mpb-bench" -c "$MANY" -n "$N" -t fifo \
			--spawn-broker "$BIN/mpbroker"
	fi
	stop_redis
done

if [ "$DO_STANDING" = 1 ]; then
	echo "== standing depth (free)" >&2
	start_redis ""
	for depth in "$STANDING_LOW" "$STANDING"; do
		record standing free "$BIN/mpb-bench" -c 8 -n "$N" -t priority \
			--prefill "$depth" --spawn-broker "$BIN/mpbroker"
		record standing free "$BIN/mpb-redis-bench" -c 8 -n "$N" -t priority \
			--prefill "$depth" -s "$WORK/redis.sock" --redis-pid "$REDIS_PID"
	done
	stop_redis
fi

if [ "$DO_MEM" = 1 ]; then
	echo "== memory (free)" >&2
	# A fresh broker per queue kind (mpb-bench does that with --spawn-broker).
	record memory free "$BIN/mpb-bench" -P 32 --memory "$MEM_ITEMS" -d 16 \
		-t fifo,lifo,priority --spawn-broker "$BIN/mpbroker"
	for wl in fifo priority; do # list, sorted set; a fresh redis each
		start_redis ""
		record memory free "$BIN/mpb-redis-bench" -P 64 --memory "$MEM_ITEMS" -d 16 \
			-t "$wl" -s "$WORK/redis.sock" --redis-pid "$REDIS_PID"
		stop_redis
	done
fi
T1=$(date +%s)

{
	echo "mpbroker compare run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
		"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')," \
		"$(uname -r), $((T1 - T0)) s"
	echo "requests per measurement: $N (put + get = 2), item size 16 bytes;" \
		"configs (clients x in flight per client): $CONFIGS"
	$PY "$ROOT/bench/compare_table.py" "$CSV"
	echo
	echo "raw results: $CSV   log: $LOG"
} | tee "$OUT/table.txt"

if [ "$FAILED" -gt 0 ]; then
	echo "compare.sh: $FAILED measurement(s) reported errors (see $LOG)" >&2
	exit 1
fi
