#!/usr/bin/env bash
# make package: `sam validate --lint`, then `sam build` (infra/samconfig.toml) builds
# every function with cargo-lambda into an arm64 bootstrap under .aws-sam/build.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
bash infra/scripts/tools.sh package
export SAM_CLI_TELEMETRY=0
.tools/sam/bin/sam validate --lint --region "${AWS_REGION:-us-east-1}"
start=$(date +%s)
.tools/sam/bin/sam build --config-file infra/samconfig.toml
echo "sam build: $(ls .aws-sam/build | grep -c Function) functions in $(( $(date +%s) - start )) s"
