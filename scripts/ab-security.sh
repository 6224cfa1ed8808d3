#!/usr/bin/env bash
# W1, W1c, W2, W2c (shared/bench workloads) over PLAINTEXT and over SASL_SSL
# (SCRAM-SHA-512, TLS 1.3, authorizer on) against one arus broker, in the
# same sitting, interleaved (ABBA over the rounds). The load comes from
# `arus bench` (the shared/bench loadgen has no TLS/SASL options): one
# franz-go client, acks=all, no compression, 6 partitions. Prints one line
# per run: records/s, MB/s, p50/p99 ms, the broker's and the client's CPU
# seconds.
#
#   ARUS=/tmp/arus scripts/ab-security.sh      # go build -o /tmp/arus ./cmd/arus
set -euo pipefail
ARUS=${ARUS:?set ARUS to the arus binary}
ROUNDS=${ROUNDS:-3}
PLAIN_PORT=${PLAIN_PORT:-39492}
SSL_PORT=${SSL_PORT:-39493}
for p in $PLAIN_PORT $SSL_PORT; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "port $p is taken" >&2; exit 1; fi
done
dir=$(mktemp -d)
trap 'kill -TERM ${pid:-0} 2>/dev/null || true; wait ${pid:-0} 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
# Certificates: as in README.md "Secured setup".
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=bench CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=broker" -keyout broker-key.pem -out broker.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > broker.ext
openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1 -extfile broker.ext -out broker.crt 2>/dev/null
cat broker-key.pem broker.crt > broker.pem
cat > server.properties <<END
node.id=1
log.dirs=$dir/data
listeners=PLAINTEXT://127.0.0.1:$PLAIN_PORT,SASL_SSL://127.0.0.1:$SSL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";
ssl.keystore.type=PEM
ssl.keystore.location=$dir/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$dir/ca.pem
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
END
"$ARUS" serve --config server.properties --log-level warn --http-listener off >"$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$SSL_PORT) 2>/dev/null && break; sleep 0.1; done
cat > admin.properties <<END
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";
ssl.truststore.location=$dir/ca.pem
END
# The bench user is not a super user: its requests go through the ACLs.
ADMIN=(-b 127.0.0.1:$SSL_PORT --command-config admin.properties)
ARUS_NEW_PASSWORD=bench-secret "$ARUS" user scram set bench --mechanism SCRAM-SHA-512 "${ADMIN[@]}" >/dev/null
"$ARUS" acl create --principal User:bench --topic W --resource-pattern-type prefixed --operation all "${ADMIN[@]}" >/dev/null
echo bench-secret > bench.password
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
one() { # proto workload topic
  local proto=$1 wl=$2 topic=$3 args
  if [ "$proto" = PLAINTEXT ]; then
    args=(-b 127.0.0.1:$PLAIN_PORT)
  else
    args=(-b 127.0.0.1:$SSL_PORT --ca "$dir/ca.pem" --sasl-mechanism SCRAM-SHA-512 --user bench --password-file "$dir/bench.password")
  fi
  case $wl in
    W1) args+=(produce --records 1000000 --size 100 --partitions 6 --acks all) ;;
    W2) args+=(produce --records 200000 --size 1024 --partitions 6 --acks all) ;;
    W1c) args+=(consume --records 1000000) ;;
    W2c) args+=(consume --records 200000) ;;
  esac
  local c0 c1 out
  c0=$(cpu)
  # /usr/bin/time -f '%U %S' appends the client's user and system CPU seconds.
  out=$(/usr/bin/time -f '%U %S' -o "$dir/time" "$ARUS" bench "${args[@]}" --topic "$topic" --json 2>/dev/null)
  c1=$(cpu)
  echo "$out" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
u, s = open(sys.argv[5]).read().split()[-2:]
print("%-9s %-4s records/s=%9.0f MB/s=%7.1f p50=%7.2f p99=%8.2f ms broker_cpu_s=%.2f client_cpu_s=%.2f" % (sys.argv[1], sys.argv[2],
      d["records_per_sec"], d["mb_per_sec"], d["latency_ms"]["p50"], d["latency_ms"]["p99"], (int(sys.argv[4]) - int(sys.argv[3])) / 100,
      float(u) + float(s)))
' "$proto" "$wl" "$c0" "$c1" "$dir/time"
}
for round in $(seq "$ROUNDS"); do
  order="PLAINTEXT SASL_SSL"
  [ $((round % 2)) = 0 ] && order="SASL_SSL PLAINTEXT"
  for proto in $order; do
    for w in 1 2; do
      t="W$w-$proto-$round"
      one "$proto" "W$w" "$t"
      one "$proto" "W${w}c" "$t"
    done
  done
done
echo "broker log lines (warn and above): $(grep -c . "$dir/serve.log" || true)"
