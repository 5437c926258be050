#!/usr/bin/env bash
# The full Temporal server (go.temporal.io/server v1.29.1, the version the compose file's
# image runs) on the local Postgres: the production topology's engine, run here without a
# container engine.
#
#   temporal-server.sh build    build the server and its SQL schema tool into the cache
#                               (once; about 6 minutes cold) and print the directory
#   temporal-server.sh schema   create the persistence and visibility databases if missing
#                               and migrate both to the version this server needs
#   temporal-server.sh setup OrgId=Keyword ...
#                               create the namespace and register search attributes with
#                               deploy/temporal-setup.sh, as compose's temporal-setup does
#   temporal-server.sh start    run the server in the foreground (exec: the pid is the
#                               server's), rendering the server's own config template from
#                               deploy/temporal.env, the file docker-compose.yml reads too
#
# The settings come from deploy/temporal.env; anything already in the environment wins, so a
# test can give each run its own databases and ports. Connection: POSTGRES_SEEDS (default
# 127.0.0.1), DB_PORT (5432), POSTGRES_USER (postgres), POSTGRES_PWD (empty). Ports:
# FRONTEND_GRPC_PORT (7233) and the others the template reads (docs/operations.md lists
# them). Dynamic config: deploy/temporal-dynamic-config.yaml, as in compose.
#
# Cache: ${XDG_CACHE_HOME:-~/.cache}/retryd/temporal-server-v1.29.1, or $RETRYD_TEMPORAL_SERVER_DIR.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=go.temporal.io/server
version=v1.29.1
dir=${RETRYD_TEMPORAL_SERVER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/retryd/temporal-server-$version}
case $dir in
/*) ;;
*) dir=$PWD/$dir ;;
esac

log() { printf 'temporal-server.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

build() {
	if [[ -x $dir/temporal-server && -x $dir/temporal-sql-tool && -f $dir/config/docker.yaml && -d $dir/schema ]]; then
		echo "$dir"
		return
	fi
	command -v go >/dev/null 2>&1 || die "the go command is not on PATH; it is needed to build $module@$version"
	mkdir -p "$dir"
	# One build at a time: a second caller waits for the first and then finds the binaries.
	exec 9>"$dir/.build.lock"
	flock 9
	if [[ -x $dir/temporal-server && -x $dir/temporal-sql-tool && -f $dir/config/docker.yaml && -d $dir/schema ]]; then
		echo "$dir"
		return
	fi
	local start=$SECONDS
	# Global, not local: the EXIT trap runs after this function has returned.
	build_tmp=$(mktemp -d "$dir/.build-XXXXXX")
	local tmp=$build_tmp
	trap 'rm -rf "$build_tmp"' EXIT
	log "building $module@$version into $dir (about 6 minutes the first time)"
	# From the temp dir so no go.work around the caller's directory interferes.
	(cd "$tmp" && GOBIN=$tmp go install "$module/cmd/server@$version" "$module/cmd/tools/sql@$version") >&2
	local src
	src=$(cd "$tmp" && go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -d $src ]] || die "cannot find the module source of $module@$version"
	# The server's own config template (what the container image renders) and the schema
	# migrations, copied so a module-cache clean does not break a built server.
	rm -rf "$dir/config" "$dir/schema"
	mkdir -p "$dir/config" "$dir/schema"
	cp "$src/config/docker.yaml" "$dir/config/docker.yaml"
	cp -r "$src/schema/postgresql" "$dir/schema/postgresql"
	chmod -R u+w "$dir/config" "$dir/schema"
	mv -f "$tmp/sql" "$dir/temporal-sql-tool"
	mv -f "$tmp/server" "$dir/temporal-server"
	log "built in $((SECONDS - start))s"
	echo "$dir"
}

# load_env sets each variable of deploy/temporal.env that the environment does not set.
load_env() {
	local line key
	while IFS= read -r line || [[ -n $line ]]; do
		[[ $line =~ ^[A-Z_][A-Z0-9_]*= ]] || continue
		key=${line%%=*}
		[[ -n ${!key+x} ]] || export "$line"
	done <"$repo/deploy/temporal.env"
	export POSTGRES_SEEDS=${POSTGRES_SEEDS:-127.0.0.1}
	export DB_PORT=${DB_PORT:-5432}
	export POSTGRES_USER=${POSTGRES_USER:-postgres}
	export POSTGRES_PWD=${POSTGRES_PWD:-}
	# The template reads the visibility store's port from POSTGRES_PORT, not DB_PORT.
	export POSTGRES_PORT=${POSTGRES_PORT:-$DB_PORT}
}

sqltool() {
	"$dir/temporal-sql-tool" --plugin "$DB" --ep "$POSTGRES_SEEDS" -p "$DB_PORT" \
		-u "$POSTGRES_USER" --pw "$POSTGRES_PWD" "$@"
}

schema() {
	build >/dev/null
	load_env
	local db sub
	for db in "$DBNAME" "$VISIBILITY_DBNAME"; do
		sub=temporal
		[[ $db == "$VISIBILITY_DBNAME" ]] && sub=visibility
		# create-database fails when the database exists; that is the state we want.
		sqltool --db "$db" create-database >/dev/null 2>&1 || true
		# setup-schema -v 0.0 makes the version table; on a database that has it, it is a
		# no-op apart from a message. update-schema then applies every migration not yet run.
		sqltool --db "$db" setup-schema -v 0.0 >&2
		sqltool --db "$db" update-schema -d "$dir/schema/postgresql/v12/$sub/versioned" >&2
	done
	log "schemas ready: $DBNAME, $VISIBILITY_DBNAME"
}

start() {
	build >/dev/null
	load_env
	export BIND_ON_IP=${BIND_ON_IP:-127.0.0.1}
	export DYNAMIC_CONFIG_FILE_PATH=${DYNAMIC_CONFIG_FILE_PATH:-$repo/deploy/temporal-dynamic-config.yaml}
	cd "$dir"
	exec "$dir/temporal-server" --root "$dir" --config config --env docker --allow-no-auth start
}

# setup registers the search attributes (Name=Type arguments) on the namespace with the
# script compose runs, creating the namespace with the retention compose's server uses.
setup() {
	load_env
	TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-127.0.0.1:${FRONTEND_GRPC_PORT:-7233}} \
		TEMPORAL_NAMESPACE=${TEMPORAL_NAMESPACE:-$DEFAULT_NAMESPACE} \
		NAMESPACE_RETENTION=$DEFAULT_NAMESPACE_RETENTION \
		exec bash "$repo/deploy/temporal-setup.sh" "$@"
}

case ${1:-} in
build) build ;;
schema) schema ;;
start) start ;;
setup)
	shift
	setup "$@"
	;;
*) die "usage: $0 build|schema|start|setup Name=Type..." ;;
esac
