# The two commands: `make dev` and `make test`. See README.md.
.PHONY: dev test tools lint

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
