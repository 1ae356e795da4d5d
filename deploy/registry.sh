#!/bin/sh
# The registry container: on first start create the registry (its signing key in a file on the data
# volume, never in the database), a secretariat participant and its token; then serve.
# From compose.yaml: RARETRACE_DB, RARETRACE_ORIGIN. The folders can be moved (tests do):
# RARETRACE_DATA (/data), RARETRACE_SHARED (/shared), RARETRACE_SERVE_CONFIG (/app/deploy/serve.toml).
# New lot and event ids must be in their facility's namespace; RARETRACE_OPEN_IDS=1 at the first start
# makes a registry that accepts legacy ids too, at the cost docs/security.md describes.
# RARETRACE_RATE_STORE=redis://… shares the rate limits with the other machines serving the registry.
set -eu
DATA="${RARETRACE_DATA:-/data}"
SHARED="${RARETRACE_SHARED:-/shared}"
KEY="$DATA/keys/registry.pem"
mkdir -p "$DATA/keys" "$SHARED"
if [ ! -f "$KEY" ]; then
  raretrace keygen --out "$KEY"
fi
export RARETRACE_REGISTRY_KEY="$KEY"
if ! raretrace log public-key >/dev/null 2>&1; then
  raretrace init --origin "$RARETRACE_ORIGIN" ${RARETRACE_OPEN_IDS:+--open-ids}
fi
raretrace upgrade
if [ ! -f "$DATA/secretariat-token.json" ]; then
  raretrace participant add --id secretariat --name "Registry secretariat" --role secretariat || true
  raretrace participant token secretariat --json > "$DATA/secretariat-token.json"
fi
raretrace log public-key > "$SHARED/log.vkey"  # for the witness: the key it checks checkpoints with
exec raretrace serve --config "${RARETRACE_SERVE_CONFIG:-/app/deploy/serve.toml}"
