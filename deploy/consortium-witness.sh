#!/bin/sh
# A consortium member's witness (compose.consortium.yaml): once the board has signed the membership
# file, `raretrace witness run` with the member's own registry (its database and key): every
# WITNESS_INTERVAL seconds it cosigns the other members' checkpoints, hands the cosignatures back,
# gossips, and writes its status (alarms: "ok": false) to $RARETRACE_DATA/witness.json.
set -eu
DATA="${RARETRACE_DATA:-/data}"
CONSORTIUM="${CONSORTIUM_DIR:-/consortium}"
export RARETRACE_REGISTRY_KEY="$DATA/keys/registry.pem"
while [ ! -f "$CONSORTIUM/consortium/ready" ]; do sleep 2; done
exec raretrace witness run --consortium "$CONSORTIUM/consortium" --interval "${WITNESS_INTERVAL:-60}" \
  --status "$DATA/witness.json"
