#!/usr/bin/env bash
# `make dev`: the demo origin on ORIGIN_PORT, local KV seeded with the demo entitlements, and the
# enforcer with the admin console in `wrangler dev` on PORT. Ctrl-C stops both.
#
# TOLLGATE_STATE (default .wrangler/state) is where local KV and Durable Object state live; the
# README-examples test points it at a temporary folder. INSPECTOR_PORT moves wrangler's
# inspector (default 9229).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8787}"
ORIGIN_PORT="${ORIGIN_PORT:-8788}"
STATE="${TOLLGATE_STATE:-.wrangler/state}"
WRANGLER=node_modules/.bin/wrangler
# DEMO ONLY: the public demo signing key and admin secret, for local runs.
# shellcheck disable=SC1091
source demo/demo.vars

bash scripts/build.sh

mkdir -p "$STATE"
entries="$STATE/demo-entries.json"
node demo/seed.mjs demo/entitlements.json > "$entries"
"$WRANGLER" kv bulk put "$entries" --binding ENTITLEMENTS --local --persist-to "$STATE" >/dev/null

TOLLGATE_CONTEXT_KEY="$CONTEXT_SIGNING_KEY" node demo/origin.mjs --host 127.0.0.1 --port "$ORIGIN_PORT" &
origin_pid=$!
trap 'kill "$origin_pid" 2>/dev/null || true' EXIT INT TERM

token() { node -e 'const d=require("./demo/entitlements.json");console.log(d.apps.find(a=>a.record.app===process.argv[1]).token)' "$1"; }
base="http://127.0.0.1:$PORT"
cat <<MSG

Tollgate is starting on $base in front of the demo origin on http://127.0.0.1:$ORIGIN_PORT.

  Admin console:  $base/_tollgate/console/
  Admin secret:   $ADMIN_SECRET   (DEMO ONLY, from demo/demo.vars)

Try (the tokens are public demo values, for local runs only; the README lists more):

  curl -si '$base/2/tweets/search/recent?query=edge' -H 'Authorization: Bearer $(token acme-search)'   # 200, rate-limit headers
  curl -s '$base/2/tweets/20'                                                # 401: no token
  curl -s '$base/2/tweets/20' -H 'Authorization: Bearer $(token acme-retired)'   # 401: revoked
  curl -s '$base/2/tweets/search/recent?query=edge' -H 'Authorization: Bearer $(token globex-lookup)'   # 403: not in plan
  curl -s '$base/2/tweets/search/recent?query=edge' -H 'Authorization: Bearer $(token trial-app)'   # 5 a minute, then 429
  curl -s '$base/v1/products?per_page=3' -H 'Authorization: Bearer $(token bazaar-app)'   # 200: another API shape, a top-level array
  curl -s '$base/_tollgate/admin/v1/accounts' -H 'Authorization: Bearer $ADMIN_SECRET'   # 200: the admin API
  curl -s 'http://127.0.0.1:$ORIGIN_PORT/2/tweets/20'                       # 403 from the origin: not signed by the edge

MSG
inspector=()
if [ -n "${INSPECTOR_PORT:-}" ]; then inspector=(--inspector-port "$INSPECTOR_PORT"); fi
# The enforcer, and the two Workers its bindings reach: the control plane (the account guards and
# the admin API) and the admin console's static files. The control plane takes ADMIN_SECRET from
# the environment (wrangler loads only the names its configuration lists under [secrets]).
# The billing export is off unless BILLING_ENDPOINT is set in the environment.
ADMIN_SECRET="$ADMIN_SECRET" BILLING_ENDPOINT="${BILLING_ENDPOINT:-none}" BILLING_ENDPOINT_TOKEN="${BILLING_ENDPOINT_TOKEN:-none}" \
  CLOUDFLARE_INCLUDE_PROCESS_ENV=true TOLLGATE_PREBUILT=1 \
  "$WRANGLER" dev -c wrangler.toml -c control/wrangler.toml -c www/wrangler.toml --ip 127.0.0.1 --port "$PORT" --persist-to "$STATE" \
  --show-interactive-dev-session=false "${inspector[@]}" \
  --var "ORIGIN_URL:http://127.0.0.1:$ORIGIN_PORT" --var "CONTEXT_SIGNING_KEY:$CONTEXT_SIGNING_KEY"
