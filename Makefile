# The two commands: `make dev` and `make test`. See README.md.
.PHONY: dev test soak tools lint seed bench bench-delete api-key package deploy

dev:
	@bash infra/scripts/dev.sh

test:
	@bash infra/scripts/test.sh

tools:
	@bash infra/scripts/tools.sh test

lint:
	@bash infra/scripts/tools.sh test
	.tools/venv/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 .tools/sam/bin/sam validate --lint --region us-east-1
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# Sandbox data for the stack `make dev` runs: USERS users (default 50), each
# with TRANSACTIONS_PER_USER transactions (default 200).
seed:
	@DYNAMODB_ENDPOINT=http://127.0.0.1:$${DYNAMODB_PORT:-8000} TABLE_NAME=$${TABLE_NAME:-users} \
		cargo run --quiet -p infra -- seed

# Release builds, arm64 zips, criterion, then request counts, handler
# overhead, cold starts, delete throughput and costs into docs/PERFORMANCE.md.
# About an hour from a cold target/ on 2 cores. RUNS (default 20) sets repetitions.
bench:
	@bash infra/scripts/bench.sh

# Delete throughput only: 1,000, 10,000 and 100,000 items (SIZES), release
# build, against a DynamoDB Local of its own.
bench-delete:
	@bash infra/scripts/tools.sh dev
	cargo build --release --quiet -p infra
	@bash -c 'source infra/scripts/common.sh; start_own_dynamodb; TABLE_NAME=bench target/release/infra bench-delete'

# A new API key for the stack `make dev` runs, printed once.
api-key:
	@DYNAMODB_ENDPOINT=http://127.0.0.1:$${DYNAMODB_PORT:-8000} TABLE_NAME=$${TABLE_NAME:-users} \
		cargo run --quiet -p infra -- api-key

# The model test (tests/tests/model.rs) at length: MODEL_CASES sequences
# (default 2,400, a hundred times make test's) from a random SEED, printed, so
# that a failure can be replayed with SEED=<n> make soak.
soak:
	@bash infra/scripts/soak.sh

# The Schemathesis contract test (tests/tests/schemathesis.rs) at length:
# CONTRACT_MAX_TIME seconds (default 1800; make test runs it for 150) from a
# random CONTRACT_SEED, printed, so that a failure can be replayed.
.PHONY: contract-soak
contract-soak:
	@bash infra/scripts/contract-soak.sh

# Every function built by `sam build` (cargo-lambda, arm64 bootstraps) into
# .aws-sam/, as infra/samconfig.toml says. About half an hour from a cold target/
# on 2 cores.
package:
	@bash infra/scripts/package.sh

# `make package`, then `sam deploy` with infra/samconfig.toml: the first time it
# asks for the stack's name, region and parameters (--guided), and keeps the
# answers in infra/samconfig.toml for later deploys.
deploy: package
	@bash infra/scripts/deploy.sh
