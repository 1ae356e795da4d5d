#!/bin/sh
# A consortium member's registry container (compose.consortium.yaml): the registry of registry.sh, and
# this member's entry for the membership file (its log's origin, log key and witness key) written to
# the consortium volume as soon as the registry exists, for the board to sign in.
# From compose: RARETRACE_DB, RARETRACE_ORIGIN, MEMBER_ID; CONSORTIUM_DIR (default /consortium).
set -eu
DATA="${RARETRACE_DATA:-/data}"
CONSORTIUM="${CONSORTIUM_DIR:-/consortium}"
export RARETRACE_SHARED="$DATA/shared"  # registry.sh's own hand-over folder, one per member
export RARETRACE_REGISTRY_KEY="$DATA/keys/registry.pem"
mkdir -p "$CONSORTIUM/members"
(
  until raretrace consortium member-keys --json > "$CONSORTIUM/members/$MEMBER_ID.tmp" 2>/dev/null; do
    sleep 1
  done
  mv "$CONSORTIUM/members/$MEMBER_ID.tmp" "$CONSORTIUM/members/$MEMBER_ID.json"
) &
exec /app/deploy/registry.sh
