#!/usr/bin/env bash
# restart-deleted.sh: restart every restartable managed member of the organization.
# Needs curl and jq. KEY is an automation key; BASE the API's address.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8080}
KEY=${KEY:?set KEY to an automation API key}
auth=(-H "Authorization: Bearer $KEY")

ids=() cursor=""
while :; do
  page=$(curl -sf "${auth[@]}" "$BASE/api/v1/admin/headshots?section=deleted&limit=100${cursor:+&cursor=$cursor}")
  mapfile -t -O "${#ids[@]}" ids < <(jq -r '.cards[] | select(.actions | index("restart_shoot")) | .member.id' <<<"$page")
  cursor=$(jq -r '.next_cursor // empty' <<<"$page")
  [[ -n $cursor ]] || break
done
echo "restartable members: ${#ids[@]}"

for ((i = 0; i < ${#ids[@]}; i += 100)); do
  batch=$(printf '%s\n' "${ids[@]:i:100}" | jq -R . | jq -s '{member_ids: .}')
  key="restart-$(date +%F)-$(sha256sum <<<"$batch" | cut -c1-16)"
  curl -sf "${auth[@]}" -H 'Content-Type: application/json' -H "Idempotency-Key: $key" \
    -d "$batch" "$BASE/api/v1/admin/restarts" |
    jq -r '.results[] | [.member_id, .outcome, (.code // ""), (.restart.access_link // "")] | @tsv'
done
