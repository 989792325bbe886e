#!/usr/bin/env bash
# Installs the S3-compatible server the off-site tests run against (idempotent; prints where it is):
# Versity's S3 gateway (versitygw, Apache-2.0) over a plain folder (its posix backend), built from the Go
# module proxy at a pinned version into a cache OUTSIDE the checkout keyed by version (about 1-5 min on
# 2 cores, once per machine), linked as .tools/bin/versitygw. It is a real S3 server: it checks SigV4
# signatures, verifies the checksums it is sent (x-amz-checksum-*, Content-MD5) and keeps its objects on
# disk across a restart. NIGHTSHIFT_S3_TEST_SERVER given by you (a versitygw binary) wins.
# Variables: NIGHTSHIFT_TOOLS_CACHE (default $HOME/.cache/nightshift). Nothing is downloaded at run time.
set -euo pipefail
VERSITYGW_VERSION=v1.8.0

cd "$(dirname "$0")/.."
root=$PWD
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "$@"; }
mkdir -p "$root/.tools/bin"

if [ -n "${NIGHTSHIFT_S3_TEST_SERVER:-}" ]; then
  if ! "$NIGHTSHIFT_S3_TEST_SERVER" --version >/dev/null 2>&1; then
    echo "install-s3-server: NIGHTSHIFT_S3_TEST_SERVER=$NIGHTSHIFT_S3_TEST_SERVER does not run ('--version' failed)" >&2
    exit 1
  fi
  ln -sf "$NIGHTSHIFT_S3_TEST_SERVER" "$root/.tools/bin/versitygw"
  say "s3 server: $NIGHTSHIFT_S3_TEST_SERVER (NIGHTSHIFT_S3_TEST_SERVER)"
  exit 0
fi

cache="${NIGHTSHIFT_TOOLS_CACHE:-${HOME:-/root}/.cache/nightshift}"
dir="$cache/versitygw-$VERSITYGW_VERSION"
mkdir -p "$cache"
complete() { [ -f "$dir/.complete" ] && [ -x "$dir/versitygw" ]; }

# Another clone may be building right now: one build at a time per cache.
exec 9>"$cache/.versitygw-$VERSITYGW_VERSION.lock"
flock 9

if ! complete; then
  if ! command -v go >/dev/null 2>&1; then
    echo "install-s3-server: 'go' is not on PATH: install Go >= 1.24 (https://go.dev/dl) to build versitygw $VERSITYGW_VERSION, the S3 server of the off-site tests" >&2
    exit 1
  fi
  echo "install-s3-server: building versitygw $VERSITYGW_VERSION with go (1-5 minutes, once per machine) into $dir" >&2
  mkdir -p "$dir"
  tmp="$(mktemp -d "$cache/.build-vgw-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  "$tmp/versitygw" --version >/dev/null
  mv -f "$tmp/versitygw" "$dir/versitygw"
  echo "$VERSITYGW_VERSION" >"$dir/.complete"
fi
ln -sfn "$dir/versitygw" "$root/.tools/bin/versitygw"
say "s3 server: versitygw $VERSITYGW_VERSION in $dir"
