#!/usr/bin/env bash
# One command: a three-member consortium on this machine (loopback), each member a `raretrace serve`
# process with its own database and a `raretrace witness run` loop, and the signed consortium file.
#
#   scripts/consortium-up.sh [WORKDIR]          # SQLite files under WORKDIR (default ./consortium-run)
#   PG=postgresql://postgres@127.0.0.1:5432 scripts/consortium-up.sh   # one PostgreSQL database each
#
# It prints each member's URL and secretariat token, then waits; Ctrl-C stops every process it started.
# Scale: MEMBERS="jp:JP us:US au:AU de:DE fr:FR" for five members; BASE_PORT (default 8101).
set -euo pipefail
WORK=${1:-./consortium-run}
MEMBERS=${MEMBERS:-"jp:JP us:US au:AU"}
BASE_PORT=${BASE_PORT:-8101}
INTERVAL=${INTERVAL:-10}
rt() { python3 -m raretrace "$@"; }

mkdir -p "$WORK/keys" "$WORK/consortium"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM

# 1. The board that signs the membership file: 2 of 3 keys.
for k in a b c; do [ -f "$WORK/keys/board-$k.key" ] || rt keygen --out "$WORK/keys/board-$k.key" >/dev/null; done
rt consortium create --name loopback-club --signer "$WORK/keys/board-a.key.pub" \
  --signer "$WORK/keys/board-b.key.pub" --signer "$WORK/keys/board-c.key.pub" --threshold 2 \
  --expires 2099-01-01T00:00:00Z --witness-quorum 2 --out "$WORK/consortium/1.json" >/dev/null
sign() { rt consortium sign "$1" --key "$WORK/keys/board-a.key" >/dev/null; rt consortium sign "$1" --key "$WORK/keys/board-b.key" >/dev/null; }
sign "$WORK/consortium/1.json"

# 2. Each member: a database, a registry, a secretariat token, a server; then a version adding it.
port=$BASE_PORT; version=1
for member in $MEMBERS; do
  id=${member%%:*}; country=${member##*:}
  if [ -n "${PG:-}" ]; then
    db="${PG%/}/raretrace_$id"; createdb -h 127.0.0.1 -U postgres "raretrace_$id" 2>/dev/null || true
  else
    db="sqlite:///$WORK/$id.db"
  fi
  rt --db "$db" init --origin "registry.$id.example/log" >/dev/null
  rt --db "$db" participant add --id secretariat --name "$id secretariat" --role secretariat >/dev/null
  token=$(rt --db "$db" participant token secretariat --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  keys=$(rt --db "$db" consortium member-keys --json)
  get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$keys" "$1"; }
  next=$((version + 1))
  rt consortium add-member "$WORK/consortium/$version.json" --id "$id" --name "$id registry" --country "$country" \
    --role registry --role witness --origin "$(get origin)" --log-key "$(get log_key)" \
    --witness-key "$(get witness_key)" --endpoint "http://127.0.0.1:$port" --out "$WORK/consortium/$next.json" >/dev/null
  sign "$WORK/consortium/$next.json"; version=$next
  rt --db "$db" serve --host 127.0.0.1 --port "$port" 2>"$WORK/$id.serve.log" & pids+=($!)
  echo "$id: http://127.0.0.1:$port  secretariat token $token  database $db"
  echo "$db" >"$WORK/$id.db-url"
  port=$((port + 1))
done
rt consortium verify "$WORK"/consortium/*.json

# 3. Every member witnesses the others, every INTERVAL seconds; alarms go to WORKDIR/<id>.witness.log.
for member in $MEMBERS; do
  id=${member%%:*}
  rt --db "$(cat "$WORK/$id.db-url")" witness run --consortium "$WORK/consortium" --interval "$INTERVAL" \
    --status "$WORK/$id.witness.json" >"$WORK/$id.witness.log" 2>&1 & pids+=($!)
done
echo "consortium up; status in $WORK/<member>.witness.json; Ctrl-C to stop"
wait
