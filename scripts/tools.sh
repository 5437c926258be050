#!/usr/bin/env bash
# Installs the linters of the quality gate from Go module source into the cache, unless
# they are already there, and prints the directory holding them.
#   staticcheck    honnef.co/go/tools/cmd/staticcheck
#   workflowcheck  go.temporal.io/sdk/contrib/tools/workflowcheck (determinism of workflows)
# Versions are pinned; the directory name carries them, so a bump installs afresh.
set -euo pipefail

staticcheck_version=v0.8.2
workflowcheck_version=v0.6.0
dir=${XDG_CACHE_HOME:-$HOME/.cache}/retryd/tools-sc$staticcheck_version-wc$workflowcheck_version
mkdir -p "$dir"

install() { # name module version
	if [[ ! -x $dir/$1 ]]; then
		echo "tools.sh: installing $2@$3 (first run only)" >&2
		GOBIN=$dir go install "$2@$3" >&2
	fi
}
install staticcheck honnef.co/go/tools/cmd/staticcheck "$staticcheck_version"
install workflowcheck go.temporal.io/sdk/contrib/tools/workflowcheck "$workflowcheck_version"
echo "$dir"
