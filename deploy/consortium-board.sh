#!/bin/sh
# The consortium's board (compose.consortium.yaml), run once: its three keys (2 of 3 sign), version 1
# of the membership file, then one version per member adding it with the keys the member published
# (consortium-member.sh), each signed; the chain is verified and marked ready for the witnesses.
# From compose: MEMBERS ("jp:JP us:US au:AU"); CONSORTIUM_DIR (default /consortium); WITNESS_QUORUM.
set -eu
DATA="${RARETRACE_DATA:-/data}"
CONSORTIUM="${CONSORTIUM_DIR:-/consortium}"
FILES="$CONSORTIUM/consortium"
mkdir -p "$DATA/keys" "$FILES"
if [ -f "$FILES/ready" ]; then
  exit 0  # made on an earlier start; changes are new versions, signed by hand (docs/consortium.md)
fi
for k in a b c; do
  [ -f "$DATA/keys/board-$k.key" ] || raretrace keygen --out "$DATA/keys/board-$k.key" >/dev/null
done
sign() {
  raretrace consortium sign "$1" --key "$DATA/keys/board-a.key" >/dev/null
  raretrace consortium sign "$1" --key "$DATA/keys/board-b.key" >/dev/null
}
raretrace consortium create --name "${CONSORTIUM_NAME:-compose-club}" --signer "$DATA/keys/board-a.key.pub" \
  --signer "$DATA/keys/board-b.key.pub" --signer "$DATA/keys/board-c.key.pub" --threshold 2 \
  --expires "${CONSORTIUM_EXPIRES:-2099-01-01T00:00:00Z}" --witness-quorum "${WITNESS_QUORUM:-2}" \
  --out "$FILES/1.json" >/dev/null
sign "$FILES/1.json"
version=1
for member in $MEMBERS; do
  id=${member%%:*}
  country=${member##*:}
  while [ ! -s "$CONSORTIUM/members/$id.json" ]; do sleep 2; done
  key() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$CONSORTIUM/members/$id.json" "$1"; }
  next=$((version + 1))
  raretrace consortium add-member "$FILES/$version.json" --id "$id" --name "$id registry" --country "$country" \
    --role registry --role witness --origin "$(key origin)" --log-key "$(key log_key)" \
    --witness-key "$(key witness_key)" --endpoint "http://registry-$id:8000" --out "$FILES/$next.json" >/dev/null
  sign "$FILES/$next.json"
  version=$next
done
raretrace consortium verify "$FILES"/[0-9]*.json
touch "$FILES/ready"
