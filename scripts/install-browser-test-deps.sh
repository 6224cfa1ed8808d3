#!/usr/bin/env bash
# Installs what the console's browser test (test/browser, build tag
# integration) needs, when it is missing and we may install it:
#
#   chromium        Debian's headless browser, driven at /usr/bin/chromium
#   playwright-core pinned in test/browser/package.json + package-lock.json,
#                   installed with `npm ci` into test/browser/node_modules
#
# playwright-core downloads no browser of its own (only `playwright` does),
# so nothing outside the Debian and npm registries is fetched. Idempotent
# and quiet when everything is there. Node.js and npm must already be on
# the machine (CI has them); without them the browser test skips.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser-test-deps: no /usr/bin/chromium and no apt-get; the browser test will skip" >&2
  else
    sudo=""
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
        echo "install-browser-test-deps: no /usr/bin/chromium; run as root to install it (the browser test will skip)" >&2
        sudo=skip
      fi
    fi
    if [ "$sudo" != skip ]; then
      echo "install-browser-test-deps: installing chromium" >&2
      export DEBIAN_FRONTEND=noninteractive
      run() {
        local out
        if ! out=$("$@" 2>&1); then
          printf '%s\n' "$out" >&2
          echo "install-browser-test-deps: failed: $*" >&2
          exit 1
        fi
      }
      run $sudo apt-get update -qq
      # fonts-dejavu-core: readable text in screenshots on a bare machine.
      run $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
    fi
  fi
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-browser-test-deps: npm not found; the browser test will skip" >&2
  exit 0
fi
want=$(sed -n 's/.*"playwright-core": *"\([^"]*\)".*/\1/p' test/browser/package.json)
have=""
if [ -f test/browser/node_modules/playwright-core/package.json ]; then
  have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' test/browser/node_modules/playwright-core/package.json | head -1)
fi
if [ "$have" != "$want" ]; then
  echo "install-browser-test-deps: npm ci in test/browser (playwright-core $want)" >&2
  (cd test/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
