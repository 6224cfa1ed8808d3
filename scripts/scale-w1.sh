#!/usr/bin/env bash
# W1 (shared/bench) on a broker hosting IDLE idle partitions (RF=1) beside
# the 6-partition W1 topic, interleaved with W1 on an empty broker, each run
# on a fresh broker; prints records/s, broker RSS and open descriptors
# (issue 11 target: >= 0.9 x the empty broker, RSS < 2 GiB, fds bounded).
#   go build -o /tmp/arus ./cmd/arus
#   (cd /work/shared/bench/loadgen && go build -o /tmp/loadgen .)
#   ARUS=/tmp/arus LOADGEN=/tmp/loadgen IDLE=10000 ROUNDS=3 scripts/scale-w1.sh
# FDLIMIT=4096 runs the brokers under that RLIMIT_NOFILE: the segment file
# cache then holds limit - arus.fd.reserve descriptors, fewer than the
# partitions, and closes idle segment files (internal/commitlog/fdcache.go).
set -euo pipefail
ARUS=${ARUS:?set ARUS to the arus binary}
LG=${LOADGEN:?set LOADGEN to the shared/bench loadgen binary}
IDLE=${IDLE:-10000}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-19192}
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
rss() { awk '/^VmRSS/ {print int($2/1024)}' /proc/$1/status; }
hwm() { awk '/^VmHWM/ {print int($2/1024)}' /proc/$1/status; }
fds() { ls /proc/$1/fd | wc -l; }
run() { # name idle-partitions
  local name=$1 idle=$2
  local dir; dir=$(mktemp -d)
  ( if [ -n "${FDLIMIT:-}" ]; then ulimit -n "$FDLIMIT"; fi
    exec "$ARUS" --listener 127.0.0.1:$PORT --data-dir "$dir" --log-level warn --http-listener off \
    --override arus.max.partitions.per.broker=-1 >"$dir.log" 2>&1 ) &
  local pid=$!
  trap "kill -TERM $pid 2>/dev/null || true" EXIT
  sleep 0.5
  if ! kill -0 $pid 2>/dev/null; then echo "broker exited at start:"; cat "$dir.log"; exit 1; fi
  for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
  local created=0
  if [ "$idle" -gt 0 ]; then
    local t0; t0=$(date +%s.%N)
    # A slow creation may outlive the client's request timeout and be
    # retried; "already exists" then means the first attempt worked.
    "$ARUS" topic create idle -b 127.0.0.1:$PORT --partitions "$idle" --replication-factor 1 >"$dir.create" 2>&1 ||
      grep -q "already exists" "$dir.create"
    created=$(echo "$(date +%s.%N) - $t0" | bc)
  fi
  local rss0 fd0; rss0=$(rss $pid); fd0=$(fds $pid)
  local c0; c0=$(cpu $pid)
  out=$($LG -brokers 127.0.0.1:$PORT -rf 1 -partitions 6 -acks all -compression none -topic "W1-$RANDOM" \
    -mode produce -records 1000000 -size 100 2>/dev/null)
  local c1; c1=$(cpu $pid)
  rate=$(echo "$out" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(int(d["records_per_s"]))')
  echo "$name idle=$idle create_s=$created W1_records/s=$rate broker_cpu_s=$(( c1-c0 ))e-2 rss_idle_MiB=$rss0 rss_after_MiB=$(rss $pid) rss_peak_MiB=$(hwm $pid) fds_idle=$fd0 fds_after=$(fds $pid)"
  kill -TERM $pid; wait $pid 2>/dev/null || true
  trap - EXIT
  rm -rf "$dir" "$dir.log" "$dir.create"
}
for _ in $(seq "$ROUNDS"); do
  run empty 0
  run idle "$IDLE"
done
