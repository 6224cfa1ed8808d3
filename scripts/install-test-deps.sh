#!/usr/bin/env bash
# Installs the external programs the integration suites use (Debian
# packages), when they are missing and we may install them. Idempotent and
# quiet when everything is there; `apt-get update` runs at most once.
#
#   kcat                     test/compat kcat tests (librdkafka)
#   python3-confluent-kafka  test/compat/python/confluent_group.py, confluent_txn.py (librdkafka)
#   python3-kafka            test/compat/python/kafka_python_group.py (kafka-python)
#
# Nothing is installed globally for KafkaJS: its test runs `npm ci` in
# test/compat/kafkajs when node_modules is missing, with the machine's node
# and npm (the test skips without them). Go modules come through the module
# proxy on first build.
set -euo pipefail

# installed PKG: the Debian package is installed (the Python modules live
# under /usr/lib/python3/dist-packages, seen only by /usr/bin/python3, so
# asking a python3 on PATH, e.g. pyenv's, would say no).
installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

need=()
command -v kcat >/dev/null 2>&1 || command -v kafkacat >/dev/null 2>&1 || need+=(kcat)
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in python3-confluent-kafka python3-kafka; do
    installed "$pkg" || need+=("$pkg")
  done
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${need[*]} and no apt-get; the suites that need them will skip" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "install-test-deps: missing ${need[*]}; run as root to install them (the suites that need them will skip)" >&2
    exit 0
  fi
fi
echo "install-test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# apt's chatter (debconf notes and the like) is shown only if a step fails.
run() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    echo "install-test-deps: failed: $*" >&2
    exit 1
  fi
}
run $sudo apt-get update -qq
run $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
