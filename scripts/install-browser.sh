#!/usr/bin/env bash
# Installs the browser of the Web UI test (test/ui/): Debian's `chromium`, driven by playwright-core
# (an npm dependency that never downloads a browser). Idempotent; never fails `npm test`:
#   1. NIGHTSHIFT_CHROMIUM given (used as it is, never installed over), or a chromium already installed.
#   2. root with apt-get: `apt-get install chromium` (~100 MB, once per machine).
#   3. otherwise: one line saying what to do; the browser test then skips with that reason.
set -uo pipefail

quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "$@"; }

if [ -n "${NIGHTSHIFT_CHROMIUM:-}" ]; then
  if [ -x "$NIGHTSHIFT_CHROMIUM" ]; then
    say "browser: $NIGHTSHIFT_CHROMIUM"
  else
    echo "install-browser: NIGHTSHIFT_CHROMIUM=$NIGHTSHIFT_CHROMIUM is not executable: the Web UI test will be skipped" >&2
  fi
  exit 0
fi

found() {
  for p in /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -x "$p" ]; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

if p="$(found)"; then
  say "browser: $p"
  exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: installing chromium (apt-get) for the Web UI test, once" >&2
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; }; then
    p="$(found)" && { say "browser: $p"; exit 0; }
  fi
  echo "install-browser: apt-get install chromium failed: the Web UI test will be skipped" >&2
  exit 0
fi

echo "install-browser: chromium is missing (as root: apt-get install chromium, or set NIGHTSHIFT_CHROMIUM): the Web UI test will be skipped" >&2
exit 0
