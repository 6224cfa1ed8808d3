#!/usr/bin/env bash
# Installs the external programs the integration suites use (Debian
# packages), when they are missing and we may install them. Go modules come
# through the module proxy on first build.
set -euo pipefail

need=()
command -v kcat >/dev/null 2>&1 || need+=(kcat)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${need[*]} and no apt-get; the suites that need them will skip" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
    echo "install-test-deps: missing ${need[*]}; run as root to install them" >&2
    exit 0
  fi
fi
echo "install-test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
