#!/usr/bin/env bash
# Installs the S3-compatible server the off-site tests run against (idempotent; prints where it is):
# moto's standalone server (PyPI `moto[s3,server]`, pinned) into the project's venv at .tools/py (the one
# scripts/install-tools.sh makes for the Temporal wheels), linked as .tools/bin/moto_server.
# NIGHTSHIFT_S3_TEST_SERVER given by you (a `moto_server` binary) wins. Nothing is downloaded at run time.
set -euo pipefail
MOTO_VERSION=5.2.5

cd "$(dirname "$0")/.."
root=$PWD
tools=$root/.tools
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "$@"; }

mkdir -p "$tools/bin"
stamp="$tools/.installed-moto-$MOTO_VERSION"
have_server() { [ -x "$tools/bin/moto_server" ] && "$tools/bin/moto_server" --help >/dev/null 2>&1; }

if [ -n "${NIGHTSHIFT_S3_TEST_SERVER:-}" ]; then
  [ -x "$NIGHTSHIFT_S3_TEST_SERVER" ] || { echo "install-s3-server: NIGHTSHIFT_S3_TEST_SERVER=$NIGHTSHIFT_S3_TEST_SERVER is not executable" >&2; exit 1; }
  ln -sf "$NIGHTSHIFT_S3_TEST_SERVER" "$tools/bin/moto_server"
  say "s3 server: $NIGHTSHIFT_S3_TEST_SERVER (NIGHTSHIFT_S3_TEST_SERVER)"
  exit 0
fi

if [ -f "$stamp" ] && have_server; then
  say "s3 server: moto $MOTO_VERSION already installed in $tools/bin"
  exit 0
fi

if ! command -v python3 >/dev/null 2>&1 && ! [ -x "$tools/py/bin/pip" ]; then
  echo "install-s3-server: python3 is not on PATH: install Python 3 (with venv) to get moto $MOTO_VERSION, the S3 server of the off-site tests" >&2
  exit 1
fi
# One pip at a time in the shared venv (install-tools.sh may be filling it from another clone's run).
exec 9>"$tools/.py.lock"
flock 9
if ! { [ -x "$tools/py/bin/pip" ] || python3 -m venv "$tools/py"; }; then
  echo "install-s3-server: could not create the venv $tools/py (python3 -m venv failed: on Debian, apt-get install python3-venv)" >&2
  exit 1
fi
if ! "$tools/py/bin/pip" install --quiet --disable-pip-version-check "moto[s3,server]==$MOTO_VERSION"; then
  echo "install-s3-server: pip install moto[s3,server]==$MOTO_VERSION into $tools/py failed; set NIGHTSHIFT_S3_TEST_SERVER to an existing moto_server" >&2
  exit 1
fi
ln -sf "$tools/py/bin/moto_server" "$tools/bin/moto_server"
have_server || { echo "install-s3-server: $tools/bin/moto_server does not run after the install" >&2; exit 1; }
rm -f "$tools"/.installed-moto-*
touch "$stamp"
say "s3 server: moto $MOTO_VERSION in $tools/bin/moto_server"
