// Turns an entitlement file (plans, accounts, apps) into KV entries in Tollgate's layout, for
// `wrangler kv bulk put`. Apps are keyed by the SHA-256 of their token: no token reaches KV.
//
//   node demo/seed.mjs demo/entitlements.json > entries.json
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const PREFIX = 'tollgate:v1:';

export const tokenHash = (token) => createHash('sha256').update(token, 'utf8').digest('hex');

export function kvEntries(doc) {
  const entries = [];
  for (const plan of doc.plans ?? []) entries.push({ key: `${PREFIX}plan:${plan.id}`, value: JSON.stringify(plan) });
  for (const account of doc.accounts ?? []) {
    entries.push({ key: `${PREFIX}account:${account.id}`, value: JSON.stringify(account) });
  }
  for (const app of doc.apps ?? []) {
    const hash = app.token_sha256 ?? tokenHash(app.token);
    entries.push({ key: `${PREFIX}token:${hash}`, value: JSON.stringify(app.record) });
  }
  return entries;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2] ?? 'demo/entitlements.json';
  process.stdout.write(JSON.stringify(kvEntries(JSON.parse(readFileSync(file, 'utf8'))), null, 2) + '\n');
}
