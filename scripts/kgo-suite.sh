#!/usr/bin/env bash
# kgo-suite.sh: run franz-go's own kgo integration tests against a running arus.
#
# What it does:
#   1. builds arus from this checkout (go build ./cmd/arus) into a temp dir;
#   2. starts NODES arus processes on 127.0.0.1 with fresh data dirs and
#      --http-listener off (NODES=1: one combined node; NODES=3: three
#      combined nodes forming one metadata quorum, as "arus dev cluster" does,
#      but on ports of their own so nothing else is bound);
#   3. copies github.com/twmb/franz-go@$KGO_VERSION (the version in go.mod;
#      "go mod download" fetches it into the module cache if missing) into the
#      temp dir, makes the copy writable and compiles pkg/kgo's tests there
#      (GOFLAGS=-mod=mod; nothing of franz-go is ever written into this repo);
#   4. runs the tests that talk to a broker (those calling newTestClient,
#      tmpTopic, adm(), testChainETL, ... found by scanning the test files),
#      with KGO_SEEDS at the nodes and KGO_TEST_RF=min(3,NODES);
#   5. prints PASS/FAIL/SKIP per test and subtest, with each skip's reason
#      (franz-go skips KIP-848, share-group and produce-v2 tests by what
#      ApiVersions advertises), and exits non-zero if any test failed or the
#      test binary did not finish.
#
# Not part of "make test": it takes minutes. Usage:
#   scripts/kgo-suite.sh                 # one node
#   NODES=3 scripts/kgo-suite.sh         # three nodes, RF 3
# Environment (defaults in brackets):
#   NODES [1]  BASE_PORT [39092] (client ports BASE_PORT.., inter-broker +100)
#   KGO_TEST_RECORDS [20000] (franz-go's default is 500000)  KGO_PARALLEL [4]
#   KGO_TIMEOUT [14m]  KGO_RUN [the scanned integration tests]  KEEP=1 keeps the temp dir
set -euo pipefail

cd "$(dirname "$0")/.."
NODES=${NODES:-1}
BASE_PORT=${BASE_PORT:-39092}
KGO_TEST_RECORDS=${KGO_TEST_RECORDS:-20000}
KGO_PARALLEL=${KGO_PARALLEL:-4}
KGO_TIMEOUT=${KGO_TIMEOUT:-14m}
KGO_VERSION=${KGO_VERSION:-$(awk '$1=="github.com/twmb/franz-go"{print $2}' go.mod)}

work=$(mktemp -d -t kgo-suite.XXXXXX)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [ "${KEEP:-0}" = 1 ] || [ "${failed:-1}" != 0 ]; then
		echo "logs kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

echo "== build arus"
go build -o "$work/arus" ./cmd/arus

echo "== franz-go $KGO_VERSION kgo tests"
modcache=$(go env GOMODCACHE)
src=$modcache/github.com/twmb/franz-go@$KGO_VERSION
[ -d "$src" ] || go mod download "github.com/twmb/franz-go@$KGO_VERSION"
mkdir -p "$work/franz-go"
cp -r "$src/." "$work/franz-go/"
chmod -R u+w "$work/franz-go"
(cd "$work/franz-go" && GOFLAGS=-mod=mod go test -c -o "$work/kgo.test" ./pkg/kgo)

# Integration tests: Test functions whose body calls one of the helpers that
# reach KGO_SEEDS. Unit tests (kfake-free, no broker) are not run.
helpers='newTestClient|tmpTopic|adm\(\)|getSeedBrokers|testClientOpts|testChainETL|tmpGroup|tmpShareGroup|internalTopic|tmpNamedTopic|waitForTopic|regexLogs'
tests=$(cd "$work/franz-go/pkg/kgo" && awk -v re="$helpers" '
	/^func Test/ { name = $2; sub(/\(.*/, "", name) }
	/^func [a-z]/ { name = "" }
	name != "" && $0 ~ re { print name; name = "" }' ./*_test.go | sort -u)
run=${KGO_RUN:-^($(echo "$tests" | paste -sd'|'))\$}

echo "== start $NODES arus node(s)"
seeds=() voters=()
for i in $(seq 1 "$NODES"); do
	seeds+=("127.0.0.1:$((BASE_PORT + i - 1))")
	voters+=("$i@127.0.0.1:$((BASE_PORT + 100 + i - 1))")
done
for i in $(seq 1 "$NODES"); do
	args=(serve --node-id "$i" --listener "${seeds[i - 1]}"
		--inter-broker-listener "127.0.0.1:$((BASE_PORT + 100 + i - 1))"
		--data-dir "$work/data-$i" --http-listener off --log-level warn)
	if [ "$NODES" -gt 1 ]; then
		args+=(--controller-quorum-voters "$(IFS=,; echo "${voters[*]}")")
	fi
	"$work/arus" "${args[@]}" >"$work/arus-$i.log" 2>&1 &
	pids+=($!)
done
for s in "${seeds[@]}"; do
	port=${s##*:}
	for _ in $(seq 300); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
done

seedlist=$(IFS=,; echo "${seeds[*]}")
# As with Kafka, a topic with RF 3 cannot be created until three brokers
# have registered (INVALID_REPLICATION_FACTOR, StripedReplicaPlacer): wait
# until every node is an unfenced broker, as one would for a Kafka cluster.
registered=0
for _ in $(seq 120); do
	registered=$("$work/arus" cluster status -b "$seedlist" 2>/dev/null | grep -c ' unfenced' || true)
	[ "$registered" -ge "$NODES" ] && break
	sleep 0.5
done
if [ "$registered" -lt "$NODES" ]; then
	echo "only $registered of $NODES brokers registered after 60s"
	exit 1
fi

rf=$((NODES < 3 ? NODES : 3))
cmd="KGO_SEEDS=$seedlist KGO_TEST_RF=$rf KGO_TEST_RECORDS=$KGO_TEST_RECORDS KGO_LOG_LEVEL=none kgo.test -test.run '<integration tests>' -test.v -test.parallel $KGO_PARALLEL -test.timeout $KGO_TIMEOUT"
echo "== run: $cmd"
rc=0
(cd "$work/franz-go/pkg/kgo" &&
	KGO_SEEDS=$seedlist KGO_TEST_RF=$rf KGO_TEST_RECORDS=$KGO_TEST_RECORDS KGO_LOG_LEVEL=none \
		"$work/kgo.test" -test.run "$run" -test.v -test.parallel "$KGO_PARALLEL" -test.timeout "$KGO_TIMEOUT") \
	>"$work/kgo.out" 2>&1 || rc=$?

echo "== summary (franz-go $KGO_VERSION, $NODES node(s), test binary exit $rc)"
# test2json attributes every output line to its test, so a skip's reason (the
# t.Skip message, "file_test.go:N: reason") is found even for subtests.
go tool test2json -t <"$work/kgo.out" >"$work/kgo.json" || true
python3 - "$work/kgo.json" <<'PY'
import json, re, sys
out, res, order = {}, {}, []
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    t = ev.get("Test")
    if not t:
        continue
    if ev["Action"] == "output" and re.search(r"_test\.go:\d+: ", ev["Output"]) and "completed in" not in ev["Output"]:
        out[t] = ev["Output"].strip()
    elif ev["Action"] in ("pass", "fail", "skip"):
        res[t] = ev["Action"].upper()
        order.append(t)
n = {}
for t in order:
    r = res[t]
    n[r] = n.get(r, 0) + 1
    why = "  (" + out.get(t, "") + ")" if r != "PASS" else ""
    print(f"{r:5} {t}{why}")
print(f"total: {n.get('PASS', 0)} pass, {n.get('FAIL', 0)} fail, {n.get('SKIP', 0)} skip")
PY
fails=$(grep -c -- '--- FAIL' "$work/kgo.out" || true)
failed=0
if [ "$rc" != 0 ] || [ "$fails" != 0 ]; then
	failed=1
	echo "FAILED: see $work/kgo.out and $work/arus-*.log"
	exit 1
fi
