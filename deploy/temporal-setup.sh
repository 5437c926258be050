#!/usr/bin/env bash
# Registers retryd's custom search attributes on a Temporal namespace, idempotently.
#
#   temporal-setup.sh Name=Type [Name=Type ...]
#   e.g. temporal-setup.sh OrgId=Keyword MemberId=Keyword ShootId=Keyword RetryStage=Keyword
#
# docker-compose.yml runs it once (service temporal-setup) in the Temporal server image,
# which ships the `temporal` CLI. It waits for the frontend and the namespace (the server's
# auto-setup creates the namespace in the background after start; this script creates it
# itself if it is still missing), adds the attributes, and returns only once the namespace
# lists every one of them, so services started after it can use them at once. Running it
# again changes nothing: attributes that already exist with the same type are accepted.
#
# Environment:
#   TEMPORAL_ADDRESS     frontend host:port (default 127.0.0.1:7233)
#   TEMPORAL_NAMESPACE   namespace (default "default")
#   TEMPORAL_CLI         the CLI binary (default "temporal" on PATH)
#   NAMESPACE_RETENTION  retention when this script creates the namespace (default
#                        $DEFAULT_NAMESPACE_RETENTION of deploy/temporal.env, else 168h)
#   SETUP_ATTEMPTS       how many times each wait polls, 2 s apart (default 90)
set -euo pipefail

address=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
namespace=${TEMPORAL_NAMESPACE:-default}
cli=${TEMPORAL_CLI:-temporal}
retention=${NAMESPACE_RETENTION:-${DEFAULT_NAMESPACE_RETENTION:-168h}}
attempts=${SETUP_ATTEMPTS:-90}

log() { printf 'temporal-setup: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

[[ $# -gt 0 ]] || die "usage: $0 Name=Type [Name=Type ...]"
names=()
create_args=()
for pair in "$@"; do
	name=${pair%%=*}
	type=${pair#*=}
	[[ $pair == *=* && -n $name && -n $type ]] || die "bad argument '$pair': want Name=Type, e.g. OrgId=Keyword"
	names+=("$name")
	create_args+=(--name "$name" --type "$type")
done

t() { "$cli" --address "$address" "$@"; }

# wait_for DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_for() {
	local what=$1 i
	shift
	for ((i = 1; i <= attempts; i++)); do
		if "$@"; then
			return 0
		fi
		((i % 10 == 1)) && log "waiting for $what ($i/$attempts)"
		sleep 2
	done
	die "gave up waiting for $what at $address"
}

frontend_up() { t operator cluster health >/dev/null 2>&1; }
wait_for "the Temporal frontend" frontend_up

namespace_ready() {
	if t operator namespace describe --namespace "$namespace" >/dev/null 2>&1; then
		return 0
	fi
	# Created by the server's auto-setup, normally; creating it here covers servers
	# without auto-setup. A concurrent creation makes this fail harmlessly.
	t operator namespace create --namespace "$namespace" --retention "$retention" >/dev/null 2>&1 || true
	return 1
}
wait_for "namespace $namespace" namespace_ready

add_attributes() {
	local out
	if out=$(t operator search-attribute create --namespace "$namespace" "${create_args[@]}" 2>&1); then
		return 0
	fi
	# Same name with another type is a conflict to fix by hand, not something to retry.
	if [[ $out == *"different type"* ]]; then
		log "$out"
		exit 1
	fi
	if [[ $out == *"already exists"* || $out == *"already registered"* ]]; then
		return 0
	fi
	log "search-attribute create: $out"
	return 1
}
wait_for "search attributes to be added" add_attributes

all_listed() {
	local list name
	list=$(t operator search-attribute list --namespace "$namespace" 2>/dev/null) || return 1
	for name in "${names[@]}"; do
		grep -qw -- "$name" <<<"$list" || return 1
	done
}
wait_for "search attributes ${names[*]} to be listed on $namespace" all_listed

log "namespace $namespace has search attributes: ${names[*]}"
