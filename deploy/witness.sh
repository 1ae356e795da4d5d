#!/bin/sh
# The witness container: a registry of its own (SQLite on its volume) that, every
# $WITNESS_INTERVAL seconds, checks the registry's log grew append-only since the checkpoint it last
# cosigned and cosigns the newest one (exit 6 and a loud message on a split view or a rollback).
# Each cosigned note is kept in $RARETRACE_DATA/witnessed/. WITNESS_ONCE=1: one round, its exit code.
set -eu
DATA="${RARETRACE_DATA:-/data}"
SHARED="${RARETRACE_SHARED:-/shared}"
export RARETRACE_DB="$DATA/witness.db"
mkdir -p "$DATA/witnessed"
if [ ! -f "$RARETRACE_DB" ]; then
  raretrace init --origin "$WITNESS_ORIGIN"
fi
while [ ! -s "$SHARED/log.vkey" ]; do sleep 2; done
while true; do
  status=0
  raretrace witness "$RARETRACE_LOG_DB" --log-key "$(cat "$SHARED/log.vkey")" \
    > "$DATA/witnessed/latest.tmp" || status=$?
  if [ "$status" -eq 0 ]; then
    mv "$DATA/witnessed/latest.tmp" "$DATA/witnessed/$(date -u +%Y%m%dT%H%M%SZ).txt"
  else
    echo "witness: the log did not pass (exit $status, see above)" >&2
  fi
  if [ "${WITNESS_ONCE:-0}" = "1" ]; then exit "$status"; fi
  sleep "${WITNESS_INTERVAL:-300}"
done
