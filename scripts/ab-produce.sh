#!/usr/bin/env bash
# A/B of produce W1/W2 (shared/bench workloads) between two arus binaries,
# interleaved, each run on a fresh broker; prints records/s and broker CPU.
set -euo pipefail
LG=${LOADGEN:-/tmp/benchtools/loadgen}   # go build -o $LG ./shared/bench/loadgen
PORT=19092
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
run() { # name bin extra...
  local name=$1 bin=$2; shift 2
  local dir; dir=$(mktemp -d)
  "$bin" --listener 127.0.0.1:$PORT --data-dir "$dir" --log-level warn "$@" >"$dir.log" 2>&1 &
  local pid=$!
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
  for wl in W1 W2; do
    local c0; c0=$(cpu $pid)
    if [ $wl = W1 ]; then args=(-records 1000000 -size 100); else args=(-records 200000 -size 1024); fi
    out=$($LG -brokers 127.0.0.1:$PORT -rf 1 -partitions 6 -acks all -compression none -topic "$wl-$RANDOM" -mode produce "${args[@]}" 2>/dev/null)
    local c1; c1=$(cpu $pid)
    rate=$(echo "$out" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(int(d["records_per_s"]))')
    echo "$name $wl records/s=$rate broker_cpu_s=$(( (c1-c0) ))e-2"
  done
  kill -TERM $pid; wait $pid 2>/dev/null || true
  rm -rf "$dir" "$dir.log"
}
for round in 1 2 3; do
  run before ${BEFORE:?set BEFORE to the old arus binary}
  run after ${AFTER:?set AFTER to the new arus binary} --http-listener off
done
