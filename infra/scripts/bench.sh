#!/usr/bin/env bash
# make bench: release builds (x86_64 to run, arm64 zips to measure), the
# criterion microbenchmarks, then the harness (infra/bench) against a DynamoDB
# Local of its own; it rewrites docs/PERFORMANCE.md. Not part of make test.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
bash infra/scripts/tools.sh
# cargo-lambda cross-compiles with zig; its PyPI package normally brings it.
if ! "$root/.tools/venv/bin/python" -c 'import ziglang' 2>/dev/null; then
  echo "installing ziglang into .tools/venv" >&2
  "$root/.tools/venv/bin/pip" install --quiet --disable-pip-version-check "ziglang==0.17.1" >&2
fi
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

echo "== release build (x86_64): functions, the two floors (hello-lambda, hello-dynamodb), the harness"
cargo build --release --workspace --bins
echo "== arm64 zips"
# One package, every function a binary of it: each is zipped on its own into
# target/lambda/<function>/bootstrap.zip, where the harness reads its size.
cargo lambda build --release --arm64 --output-format zip -p functions
echo "== microbenchmarks"
cargo bench -p shared --bench domain

start_own_dynamodb
start_own_sqs
echo "== harness"
target/release/bench
