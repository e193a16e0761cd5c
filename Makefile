# The two commands: `make dev` and `make test`. See README.md.
.PHONY: dev test tools lint seed

dev:
	@bash infra/scripts/dev.sh

test:
	@bash infra/scripts/test.sh

tools:
	@bash infra/scripts/tools.sh

lint:
	@bash infra/scripts/tools.sh
	.tools/venv/bin/cfn-lint template.yaml
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# Sandbox data for the stack `make dev` runs: USERS users (default 50), each
# with TRANSACTIONS_PER_USER transactions (default 200).
seed:
	@DYNAMODB_ENDPOINT=http://127.0.0.1:$${DYNAMODB_PORT:-8000} TABLE_NAME=$${TABLE_NAME:-users} \
		cargo run --quiet -p infra -- seed
