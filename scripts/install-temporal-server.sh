#!/usr/bin/env bash
# Installs what `nightshift cluster` runs besides Node (idempotent; prints where things are):
#   1. the Temporal server and its SQL schema tool, built from the Go module proxy, with the PostgreSQL
#      schema files, into a cache OUTSIDE the checkout keyed by version (a build takes 5-9 min on 2
#      cores: every clone of this machine reuses it). .tools/temporal-server links to it.
#   2. HAProxy (the load balancer in front of the cluster's two gates), from Debian, when we are root.
# Variables: NIGHTSHIFT_TOOLS_CACHE (default $HOME/.cache/nightshift).
set -euo pipefail
TEMPORAL_SERVER_VERSION=v1.31.2

cd "$(dirname "$0")/.."
root=$PWD
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "$@"; }

cache="${NIGHTSHIFT_TOOLS_CACHE:-${HOME:-/root}/.cache/nightshift}"
dir="$cache/temporal-server-$TEMPORAL_SERVER_VERSION"
mkdir -p "$root/.tools" "$cache"

complete() { [ -f "$dir/.complete" ] && [ -x "$dir/temporal-server" ] && [ -x "$dir/temporal-sql-tool" ] && [ -f "$dir/schema/postgresql/v12/temporal/schema.sql" ]; }

# Another clone may be building right now: one build at a time per cache.
exec 9>"$cache/.temporal-server-$TEMPORAL_SERVER_VERSION.lock"
flock 9

if ! complete; then
  if ! command -v go >/dev/null 2>&1; then
    echo "install-temporal-server: 'go' is not on PATH: install Go >= 1.24 (https://go.dev/dl) to build the Temporal server $TEMPORAL_SERVER_VERSION" >&2
    exit 1
  fi
  mkdir -p "$dir"
  # `go install` names the binaries after their folders: server and sql. A build left by hand (or an
  # interrupted run) is reused when it runs.
  if ! { [ -x "$dir/server" ] && [ -x "$dir/sql" ]; } && ! { [ -x "$dir/temporal-server" ] && [ -x "$dir/temporal-sql-tool" ]; }; then
    echo "install-temporal-server: building the Temporal server $TEMPORAL_SERVER_VERSION and its SQL tool with go (5-9 minutes, once per machine) into $dir" >&2
    tmp="$(mktemp -d "$cache/.build-XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-mod=mod go install \
      "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" \
      "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION"
    mv -f "$tmp/server" "$dir/temporal-server"
    mv -f "$tmp/sql" "$dir/temporal-sql-tool"
  fi
  [ -x "$dir/server" ] && mv -f "$dir/server" "$dir/temporal-server"
  [ -x "$dir/sql" ] && mv -f "$dir/sql" "$dir/temporal-sql-tool"
  # The schema files come with the module source, in the module cache (downloaded by the build).
  src="$(go env GOMODCACHE)/go.temporal.io/server@$TEMPORAL_SERVER_VERSION/schema/postgresql"
  if [ ! -d "$src" ]; then
    GOFLAGS=-mod=mod go mod download "go.temporal.io/server@$TEMPORAL_SERVER_VERSION" >/dev/null 2>&1 || true
  fi
  [ -d "$src" ] || { echo "install-temporal-server: the schema files are not in $src" >&2; exit 1; }
  rm -rf "$dir/schema.tmp"
  mkdir -p "$dir/schema.tmp"
  cp -R "$src" "$dir/schema.tmp/postgresql"
  chmod -R u+w,a+rX "$dir/schema.tmp"
  rm -rf "$dir/schema"
  mv "$dir/schema.tmp" "$dir/schema"
  "$dir/temporal-server" --help >/dev/null
  echo "$TEMPORAL_SERVER_VERSION" >"$dir/.complete"
fi
ln -sfn "$dir" "$root/.tools/temporal-server"
say "temporal server: $TEMPORAL_SERVER_VERSION in $dir"

# HAProxy: only root can install it; elsewhere the cluster suite says it is missing and skips.
if ! command -v haproxy >/dev/null 2>&1 && ! [ -x /usr/sbin/haproxy ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-temporal-server: installing haproxy (apt-get) for the cluster's load balancer" >&2
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; }; then
      echo "install-temporal-server: apt-get install haproxy failed: the cluster tests will be skipped" >&2
    fi
  else
    say "haproxy: missing (install it as root: apt-get install haproxy); the cluster tests will be skipped"
  fi
fi
