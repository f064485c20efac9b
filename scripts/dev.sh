#!/usr/bin/env bash
# `make dev`: the demo origin on ORIGIN_PORT, local KV seeded with the demo entitlements, and the
# enforcer in `wrangler dev` on PORT. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8787}"
ORIGIN_PORT="${ORIGIN_PORT:-8788}"
WRANGLER=node_modules/.bin/wrangler
# DEMO ONLY: the public demo signing key, shared by the demo origin and the local worker.
# shellcheck disable=SC1091
source demo/demo.vars

bash scripts/build.sh

state=.wrangler/state
mkdir -p "$state"
node demo/seed.mjs demo/entitlements.json > .wrangler/demo-entries.json
"$WRANGLER" kv bulk put .wrangler/demo-entries.json --binding ENTITLEMENTS --local --persist-to "$state" >/dev/null

TOLLGATE_CONTEXT_KEY="$CONTEXT_SIGNING_KEY" node demo/origin.mjs --host 127.0.0.1 --port "$ORIGIN_PORT" &
origin_pid=$!
trap 'kill "$origin_pid" 2>/dev/null || true' EXIT INT TERM

token() { node -e 'const d=require("./demo/entitlements.json");console.log(d.apps.find(a=>a.record.app===process.argv[1]).token)' "$1"; }
base="http://127.0.0.1:$PORT"
cat <<MSG

Tollgate is starting on $base in front of the demo origin on http://127.0.0.1:$ORIGIN_PORT.
Try (demo tokens: public, local only):

  curl -s '$base/2/tweets/search/recent?query=edge' -H 'Authorization: Bearer $(token acme-search)'
  curl -s '$base/2/tweets/20'                              # 401: no token
  curl -s '$base/2/tweets/20' -H 'Authorization: Bearer $(token acme-retired)'   # 401: revoked
  curl -s '$base/2/tweets/search/recent?query=edge' -H 'Authorization: Bearer $(token globex-lookup)'   # 403: not in plan
  curl -s 'http://127.0.0.1:$ORIGIN_PORT/2/tweets/20'      # 403 from the origin: not signed by the edge

MSG
# The enforcer, and the admin console's static-files Worker that its CONSOLE binding reaches.
TOLLGATE_PREBUILT=1 "$WRANGLER" dev -c wrangler.toml -c www/wrangler.toml --ip 127.0.0.1 --port "$PORT" --persist-to "$state" \
  --show-interactive-dev-session=false \
  --var "ORIGIN_URL:http://127.0.0.1:$ORIGIN_PORT" --var "CONTEXT_SIGNING_KEY:$CONTEXT_SIGNING_KEY"
