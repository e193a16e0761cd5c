#!/usr/bin/env bash
# make deploy: `sam deploy` of what `make package` built. The first deploy
# (infra/samconfig.toml names no region yet) is guided: it asks for the region and
# the stack's parameters, and saves them in infra/samconfig.toml for the next ones.
# Credentials come from the usual AWS sources (profile, SSO, environment),
# never from this repo.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
export SAM_CLI_TELEMETRY=0
if grep -q "^region *=" infra/samconfig.toml; then
  .tools/sam/bin/sam deploy --config-file infra/samconfig.toml "$@"
else
  .tools/sam/bin/sam deploy --guided --config-file infra/samconfig.toml "$@"
fi
