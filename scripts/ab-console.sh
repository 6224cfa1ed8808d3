#!/usr/bin/env bash
# W1 (shared/bench loadgen) on a fresh arus, alternately without and with
# the web console open (headless Chromium) on the topic being written;
# prints records/s and the broker's CPU time.
set -euo pipefail
LG=${LOADGEN:-/tmp/benchtools/loadgen}   # go build -o $LG ./shared/bench/loadgen
ARUS=${ARUS:?set ARUS to the arus binary}
PORT=19092 HTTP=18080
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
run() { # console: yes|no
  local dir; dir=$(mktemp -d)
  "$ARUS" --listener 127.0.0.1:$PORT --data-dir "$dir" --log-level warn --http-listener 127.0.0.1:$HTTP >"$dir.log" 2>&1 &
  local pid=$! browser=""
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
  "$ARUS" topic create busy --partitions 6 -b 127.0.0.1:$PORT >/dev/null
  if [ "$1" = yes ]; then
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-quic --no-first-run \
      --disable-component-update --disable-sync --user-data-dir="$dir/chrome" "http://127.0.0.1:$HTTP/#/topics/busy" >/dev/null 2>&1 &
    browser=$!
    sleep 3 # let the page load and start polling (it polls every 2 s)
  fi
  local c0; c0=$(cpu $pid)
  out=$($LG -brokers 127.0.0.1:$PORT -rf 1 -partitions 6 -acks all -compression none -topic busy -mode produce -records 1000000 -size 100 2>/dev/null)
  local c1; c1=$(cpu $pid)
  rate=$(echo "$out" | python3 -c 'import json,sys; print(int(json.loads(sys.stdin.read().strip().splitlines()[-1])["records_per_s"]))')
  echo "console=$1 W1 records/s=$rate broker_cpu_s=$(( c1-c0 ))e-2"
  [ -n "$browser" ] && kill "$browser" 2>/dev/null || true
  kill -TERM $pid; wait $pid 2>/dev/null || true
  rm -rf "$dir" "$dir.log"
}
for round in 1 2 3; do
  run no
  run yes
done
