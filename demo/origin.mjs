#!/usr/bin/env node
// Demo origin for Tollgate: a stand-in for the public X (Twitter) API v2, and for a second API
// whose responses have other shapes (a top-level array; a nested listing).
//
// It answers a small set of read endpoints with X-shaped JSON so that stock
// X API v2 client libraries work against it unchanged, but only for requests
// that carry a context header signed by the Tollgate edge. That makes it a
// realistic target for end-to-end tests of the enforcer: anything reaching it
// without passing through the edge is refused and counted.
//
// Usage: TOLLGATE_CONTEXT_KEY=... node demo/origin.mjs [--host 127.0.0.1] [--port 8788]
//
// Plain Node 20, built-in modules only, so it runs anywhere without an install.

import http from 'node:http';
import crypto from 'node:crypto';

// ---------------------------------------------------------------------------
// Configuration

function fail(message) {
  process.stderr.write(`demo origin: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--(host|port)(?:=(.*))?$/.exec(arg);
    if (!m) fail(`unknown argument ${JSON.stringify(arg)} (usage: origin.mjs [--host H] [--port P])`);
    let value = m[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) fail(`--${m[1]} needs a value`);
    }
    out[m[1]] = value;
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const HOST = args.host ?? process.env.HOST ?? '127.0.0.1';
const PORT_TEXT = args.port ?? process.env.PORT ?? '8788';
if (!/^\d{1,5}$/.test(PORT_TEXT) || Number(PORT_TEXT) > 65535) fail(`invalid port ${JSON.stringify(PORT_TEXT)}`);
const PORT = Number(PORT_TEXT);

// The shared secret is the only thing that distinguishes edge traffic from a
// direct hit, so running without it would silently accept everything.
const CONTEXT_KEY = process.env.TOLLGATE_CONTEXT_KEY;
if (!CONTEXT_KEY) fail('TOLLGATE_CONTEXT_KEY is not set; refusing to start without the edge context key');
const CONTEXT_KEY_BYTES = Buffer.from(CONTEXT_KEY, 'utf8');

const CONTEXT_MAX_SKEW_S = 300;
// v2: the client's address (as the edge's runtime knows it, or `unknown`) is signed too.
const CONTEXT_RE =
  /^v2;t=(\d{1,12});account=([a-z0-9][a-z0-9._-]{0,63});app=([a-z0-9][a-z0-9._-]{0,63});client=(unknown|[0-9a-f.:]{2,39});sig=([0-9a-f]{64})$/;

// ---------------------------------------------------------------------------
// State (test hooks read and reset this)

const VALID_FAULTS = new Set(['none', 'delay', 'reset', 'truncate', 'garbage', 'huge', 'status', 'partial']);
const MAX_DELAY_MS = 120_000;

// How the stream endpoints behave (POST /__origin/stream sets it; reset restores it).
const STREAM_DEFAULTS = { rate: 2, lines: null, then: 'end', keepalive_ms: 20_000, inject: [] };
// The filtered stream's rules (GET/POST /2/tweets/search/stream/rules); one demo rule to start.
const DEFAULT_RULES = [{ id: '1700000000000000001', value: 'tollgate OR edge', tag: 'demo' }];

const freshStreamCounts = () => ({ opened: 0, open: 0, lines: 0, keepalives: 0, errors: 0, garbage: 0, long: 0, cut: 0 });

const state = {
  served: 0,
  refused: 0,
  resets: 0,
  items: 0,
  byPath: Object.create(null),
  fault: { mode: 'none', delay_ms: 0, status: 0 },
  last: null,
  stream: { ...STREAM_DEFAULTS },
  streams: freshStreamCounts(),
  // Post lines ever sent since the last reset: each line's tweet id comes from it, so ids are
  // distinct across connections.
  streamSeq: 0,
  rules: DEFAULT_RULES.map((r) => ({ ...r })),
};

function resetState() {
  state.served = 0;
  state.refused = 0;
  state.resets = 0;
  state.items = 0;
  state.byPath = Object.create(null);
  state.fault = { mode: 'none', delay_ms: 0, status: 0 };
  state.last = null;
  state.stream = { ...STREAM_DEFAULTS };
  // Streams still open keep counting into the counters they started with.
  state.streams = freshStreamCounts();
  state.streamSeq = 0;
  state.rules = DEFAULT_RULES.map((r) => ({ ...r }));
}

// ---------------------------------------------------------------------------
// Response helpers

const JSON_TYPE = 'application/json; charset=utf-8';
const PROBLEM_TYPE = 'application/problem+json';

function send(res, status, contentType, body, extraHeaders = {}) {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': buf.length,
    'cache-control': 'no-store',
    ...extraHeaders,
  });
  res.end(buf);
}

function sendJson(res, status, value, extraHeaders) {
  send(res, status, JSON_TYPE, JSON.stringify(value), extraHeaders);
}

function sendProblem(res, status, title, detail, extraHeaders) {
  send(res, status, PROBLEM_TYPE, JSON.stringify({ title, type: 'about:blank', status, detail }), extraHeaders);
}

// X's 400 for parameter validation; it is plain JSON so clients parse the errors.
class InvalidRequest extends Error {
  constructor(parameter, values, message) {
    super(message);
    this.parameter = parameter;
    this.values = values;
  }
  body() {
    return {
      errors: [{ parameters: { [this.parameter]: this.values }, message: this.message }],
      title: 'Invalid Request',
      detail: 'One or more parameters to your request was invalid.',
      type: 'https://api.twitter.com/2/problems/invalid-request',
    };
  }
}

// ---------------------------------------------------------------------------
// Deterministic synthetic data
//
// Everything is derived from hashes of the request, never from the clock or a
// random source, so the same request always produces the same bytes. Tweet ids
// are real-looking snowflakes: their timestamp bits give created_at, and their
// low bits name the author, so a tweet looks the same from every endpoint.

const TWITTER_EPOCH_MS = 1288834974657n;
// The newest synthetic tweet is pinned to a fixed instant rather than "now".
const ANCHOR_MS = Date.UTC(2024, 0, 15, 12, 0, 0);

function sha256(text) {
  return crypto.createHash('sha256').update(text).digest();
}

function seed32(text) {
  return sha256(text).readUInt32BE(0);
}

// mulberry32: a tiny seeded PRNG; deterministic for a given seed.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// FNV-1a, cheap enough to run per tweet even when streaming hundreds of thousands.
function fnv32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const FIRST = ['Ada', 'Bram', 'Cleo', 'Dario', 'Edda', 'Faye', 'Gus', 'Hana'];
const LAST = ['Quill', 'Rowan', 'Stone', 'Thorne', 'Umber', 'Vale', 'Wren', 'Yarrow'];

// 64 synthetic accounts; the low 6 bits of a tweet id select its author.
const USER_POOL = Array.from({ length: 64 }, (_, i) => {
  let id = 1_000_000_000n + (sha256(`user:${i}`).readBigUInt64BE(0) % 8_999_999_999n);
  while (id % 7n === 0n) id += 1n; // pool users must exist (see isMissing)
  const first = FIRST[i >> 3];
  const last = LAST[i & 7];
  return {
    index: i,
    id: id.toString(),
    name: `${first} ${last}`,
    username: `${first}_${last}_${String(i).padStart(2, '0')}`.toLowerCase(),
    created_at: new Date(Date.UTC(2009, 0, 1) + (seed32(`joined:${i}`) % 400_000_000) * 1000).toISOString().replace(/\.\d{3}Z$/, '.000Z'),
  };
});
const POOL_BY_ID = new Map(USER_POOL.map((u) => [u.id, u]));

const WORDS = [
  'edge', 'origin', 'latency', 'quota', 'cache', 'request', 'budget', 'token', 'stream', 'signal',
  'metrics', 'deploy', 'worker', 'region', 'limit', 'burst', 'window', 'header', 'replay', 'shard',
  'queue', 'trace', 'policy', 'ledger', 'tenant', 'gateway', 'retry', 'backoff', 'payload', 'schema',
];
const TAGS = ['#api', '#edge', '#ratelimits', '#devops', '#observability', '#rust', '#webdev', '#data'];

// X never returns ids divisible by 7 from search/timelines here, because the
// lookup endpoints report those as not found.
const isMissing = (idBig) => idBig % 7n === 0n;

function makeSnowflake(ms, rand16, authorIndex) {
  let r = rand16 & 0xffff;
  for (;;) {
    const id = ((BigInt(ms) - TWITTER_EPOCH_MS) << 22n) | (BigInt(r) << 6n) | BigInt(authorIndex & 63);
    if (!isMissing(id)) return id;
    r = (r + 1) & 0xffff;
  }
}

function snowflakeMs(idBig) {
  return Number((idBig >> 22n) + TWITTER_EPOCH_MS);
}

function isoSeconds(ms) {
  // X reports second precision with a literal ".000Z".
  const clamped = Math.min(Math.max(ms, 0), 8.64e15);
  return new Date(Math.floor(clamped / 1000) * 1000).toISOString();
}

function tweetText(idStr) {
  const rnd = prng(fnv32(idStr));
  const n = 6 + Math.floor(rnd() * 9);
  const words = [];
  for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(rnd() * WORDS.length)]);
  words[0] = words[0][0].toUpperCase() + words[0].slice(1);
  return `${words.join(' ')} ${TAGS[Math.floor(rnd() * TAGS.length)]}`;
}

function makeTweet(idBig, fields) {
  const id = idBig.toString();
  const tweet = { id, text: tweetText(id), edit_history_tweet_ids: [id] };
  if (fields.size === 0) return tweet;
  const ms = snowflakeMs(idBig);
  const author = USER_POOL[Number(idBig & 63n)];
  if (fields.has('author_id')) tweet.author_id = author.id;
  if (fields.has('created_at')) tweet.created_at = isoSeconds(ms);
  if (fields.has('conversation_id')) tweet.conversation_id = id;
  if (fields.has('lang')) tweet.lang = 'en';
  if (fields.has('possibly_sensitive')) tweet.possibly_sensitive = false;
  if (fields.has('reply_settings')) tweet.reply_settings = 'everyone';
  if (fields.has('edit_controls')) {
    tweet.edit_controls = { edits_remaining: 5, is_edit_eligible: false, editable_until: isoSeconds(ms + 3_600_000) };
  }
  if (fields.has('public_metrics')) {
    const rnd = prng(fnv32(`m:${id}`));
    tweet.public_metrics = {
      retweet_count: Math.floor(rnd() * 50),
      reply_count: Math.floor(rnd() * 20),
      like_count: Math.floor(rnd() * 400),
      quote_count: Math.floor(rnd() * 10),
      bookmark_count: Math.floor(rnd() * 15),
      impression_count: Math.floor(rnd() * 20000),
    };
  }
  return tweet;
}

function makeUser(user, fields) {
  const out = { id: user.id, name: user.name, username: user.username };
  if (fields.has('created_at')) out.created_at = user.created_at;
  if (fields.has('description')) out.description = `Synthetic account #${user.index} for the Tollgate demo.`;
  if (fields.has('protected')) out.protected = false;
  if (fields.has('verified')) out.verified = false;
  if (fields.has('public_metrics')) {
    const rnd = prng(seed32(`um:${user.id}`));
    out.public_metrics = {
      followers_count: Math.floor(rnd() * 100000),
      following_count: Math.floor(rnd() * 2000),
      tweet_count: Math.floor(rnd() * 50000),
      listed_count: Math.floor(rnd() * 500),
    };
  }
  return out;
}

// Result sets: newest first, strictly decreasing ids.
function searchSet(query) {
  if (/\bnoresults\b/i.test(query)) return []; // documented way to get an empty result
  const h = sha256(`search\0${query}`);
  const size = 25 + (h.readUInt32BE(0) % 226); // 25..250
  const rnd = prng(h.readUInt32BE(4));
  let ms = ANCHOR_MS - (h.readUInt32BE(8) % 86_400_000);
  const ids = [];
  for (let i = 0; i < size; i++) {
    ids.push(makeSnowflake(ms, Math.floor(rnd() * 65536), Math.floor(rnd() * 64)));
    ms -= 1000 + Math.floor(rnd() * 600_000);
  }
  return ids;
}

function timelineSet(userId) {
  const h = sha256(`timeline\0${userId}`);
  const size = 20 + (h.readUInt32BE(0) % 281); // 20..300
  const rnd = prng(h.readUInt32BE(4));
  // Tweets by a pool user carry that user's index, so lookups agree on the author.
  const pooled = POOL_BY_ID.get(userId);
  const authorIndex = pooled ? pooled.index : h[8] & 63;
  let ms = ANCHOR_MS - (h.readUInt32BE(12) % 3_600_000);
  const ids = [];
  for (let i = 0; i < size; i++) {
    ids.push(makeSnowflake(ms, Math.floor(rnd() * 65536), authorIndex));
    ms -= 60_000 + Math.floor(rnd() * 86_400_000);
  }
  return ids;
}

// ---------------------------------------------------------------------------
// Parameter parsing, mirroring X's validation messages

const TWEET_FIELDS = [
  'article', 'attachments', 'author_id', 'card_uri', 'community_id', 'context_annotations', 'conversation_id',
  'created_at', 'display_text_range', 'edit_controls', 'edit_history_tweet_ids', 'entities', 'geo', 'id',
  'in_reply_to_user_id', 'lang', 'media_metadata', 'non_public_metrics', 'note_tweet', 'organic_metrics',
  'possibly_sensitive', 'promoted_metrics', 'public_metrics', 'referenced_tweets', 'reply_settings', 'scopes',
  'source', 'text', 'withheld',
];
const USER_FIELDS = [
  'affiliation', 'connection_status', 'created_at', 'description', 'entities', 'id', 'location',
  'most_recent_tweet_id', 'name', 'pinned_tweet_id', 'profile_banner_url', 'profile_image_url', 'protected',
  'public_metrics', 'receives_your_dm', 'subscription_type', 'url', 'username', 'verified', 'verified_type',
  'withheld',
];
const EXPANSIONS = [
  'article.cover_media', 'article.media_entities', 'attachments.media_keys', 'attachments.media_source_tweet',
  'attachments.poll_ids', 'author_id', 'edit_history_tweet_ids', 'entities.mentions.username', 'geo.place_id',
  'in_reply_to_user_id', 'entities.note.mentions.username', 'referenced_tweets.id',
  'referenced_tweets.id.attachments.media_keys', 'referenced_tweets.id.author_id',
];
// Fields for objects this origin never produces; accepted so clients that ask are not refused.
const LOOSE_LIST = /^[a-z_]+(?:\.[a-z_]+)*$/;

const COMMON_PARAMS = ['expansions', 'tweet.fields', 'user.fields', 'media.fields', 'poll.fields', 'place.fields'];
const SEARCH_PARAMS = new Set([
  'query', 'start_time', 'end_time', 'since_id', 'until_id', 'max_results', 'next_token', 'pagination_token',
  'sort_order', ...COMMON_PARAMS,
]);
const TIMELINE_PARAMS = new Set([
  'max_results', 'pagination_token', 'since_id', 'until_id', 'start_time', 'end_time', 'exclude', ...COMMON_PARAMS,
]);
const LOOKUP_PARAMS = new Set(['ids', ...COMMON_PARAMS]);
const SINGLE_PARAMS = new Set(COMMON_PARAMS);

const MAX_LIST_ITEMS = 64;

function checkKnownParams(params, allowed) {
  for (const key of params.keys()) {
    if (!allowed.has(key)) {
      throw new InvalidRequest(key, [params.get(key)],
        `The query parameter [${key}] is not one of [${[...allowed].join(',')}]`);
    }
  }
}

function listParam(params, name, allowed) {
  const raw = params.get(name);
  const out = new Set();
  if (raw === null) return out;
  const parts = raw.split(',');
  if (parts.length > MAX_LIST_ITEMS) {
    throw new InvalidRequest(name, [raw], `The \`${name}\` query parameter has too many values`);
  }
  for (const part of parts) {
    const ok = allowed ? allowed.includes(part) : LOOSE_LIST.test(part);
    if (!ok) {
      const tail = allowed ? ` is not one of [${allowed.join(',')}]` : ' is not valid';
      throw new InvalidRequest(name, [part], `The \`${name}\` query parameter value [${part}]${tail}`);
    }
    out.add(part);
  }
  return out;
}

function intParam(params, name, min, max, dflt) {
  const raw = params.get(name);
  if (raw === null) return dflt;
  const n = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    throw new InvalidRequest(name, [raw], `The \`${name}\` query parameter value [${raw}] is not between ${min} and ${max}`);
  }
  return n;
}

const ID_RE = /^[0-9]{1,19}$/;

function idValue(name, raw) {
  if (!ID_RE.test(raw) || BigInt(raw) > 0x7fffffffffffffffn) {
    throw new InvalidRequest(name, [raw], `The \`${name}\` query parameter value [${raw}] does not match ^[0-9]{1,19}$`);
  }
  return BigInt(raw);
}

const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})$/;

function timeParam(params, name) {
  const raw = params.get(name);
  if (raw === null) return null;
  const ms = TIME_RE.test(raw) ? Date.parse(raw) : NaN;
  if (!Number.isFinite(ms)) {
    throw new InvalidRequest(name, [raw],
      `Invalid '${name}':'${raw}'. '${name}' must be a timestamp in the format YYYY-MM-DDTHH:mm:ssZ`);
  }
  return ms;
}

// since_id / until_id / start_time / end_time narrow a result set like they do on X.
function readFilters(params) {
  const f = {
    since: params.get('since_id') === null ? null : idValue('since_id', params.get('since_id')),
    until: params.get('until_id') === null ? null : idValue('until_id', params.get('until_id')),
    start: timeParam(params, 'start_time'),
    end: timeParam(params, 'end_time'),
  };
  f.key = [f.since, f.until, f.start, f.end].map((v) => (v === null ? '' : String(v))).join('|');
  return f;
}

function applyFilters(ids, f) {
  if (!f.key.replace(/\|/g, '')) return ids;
  return ids.filter((id) => {
    if (f.since !== null && id <= f.since) return false;
    if (f.until !== null && id >= f.until) return false;
    const ms = snowflakeMs(id);
    if (f.start !== null && ms < f.start) return false;
    if (f.end !== null && ms >= f.end) return false;
    return true;
  });
}

// Pagination tokens are opaque to clients: a tag bound to the result set plus
// an offset, so a token from one query cannot silently page another.
function tokenTag(scope) {
  return sha256(`page\0${scope}`).toString('hex').slice(0, 12);
}

function makeToken(scope, offset) {
  return tokenTag(scope) + offset.toString(36).padStart(4, '0');
}

function readToken(name, raw, scope, size) {
  const m = /^([0-9a-f]{12})([0-9a-z]{4})$/.exec(raw);
  const offset = m ? parseInt(m[2], 36) : NaN;
  if (!m || m[1] !== tokenTag(scope) || !(offset >= 0 && offset < size)) {
    throw new InvalidRequest(name, [raw], `The \`${name}\` query parameter value [${raw}] is not valid`);
  }
  return offset;
}

function renderTweets(ids, params) {
  const fields = listParam(params, 'tweet.fields', TWEET_FIELDS);
  const expansions = listParam(params, 'expansions', EXPANSIONS);
  const userFields = listParam(params, 'user.fields', USER_FIELDS);
  for (const name of ['media.fields', 'poll.fields', 'place.fields']) listParam(params, name, null);
  const data = ids.map((id) => makeTweet(id, fields));
  let includes;
  if (expansions.has('author_id') && ids.length) {
    const seen = new Map();
    for (const id of ids) {
      const u = USER_POOL[Number(id & 63n)];
      if (!seen.has(u.id)) seen.set(u.id, makeUser(u, userFields));
    }
    includes = { users: [...seen.values()] };
  }
  return { data, includes };
}

function notFound(resource, parameter, value) {
  const noun = parameter === 'ids' ? 'ids' : 'id';
  return {
    value,
    detail: `Could not find ${resource} with ${noun}: [${value}].`,
    title: 'Not Found Error',
    resource_type: resource,
    parameter,
    resource_id: value,
    type: 'https://api.twitter.com/2/problems/resource-not-found',
  };
}

// ---------------------------------------------------------------------------
// Endpoints. Each returns { status, body }; body.data drives the item counter.

const MAX_QUERY_CHARS = 4096;

function searchRecent(params) {
  checkKnownParams(params, SEARCH_PARAMS);
  const query = params.get('query');
  if (query === null || query.trim() === '') {
    throw new InvalidRequest('query', [], 'The `query` query parameter can not be empty');
  }
  if (query.length > MAX_QUERY_CHARS) {
    throw new InvalidRequest('query', [query.slice(0, 64) + '…'],
      `The \`query\` query parameter value is longer than ${MAX_QUERY_CHARS} characters`);
  }
  const maxResults = intParam(params, 'max_results', 10, 100, 10);
  const sort = params.get('sort_order');
  if (sort !== null && sort !== 'recency' && sort !== 'relevancy') {
    throw new InvalidRequest('sort_order', [sort], `The \`sort_order\` query parameter value [${sort}] is not one of [recency,relevancy]`);
  }
  const filters = readFilters(params);
  const ids = applyFilters(searchSet(query), filters);
  const scope = `search\0${query}\0${filters.key}`;
  // X accepts either name for the search cursor.
  const tokenName = params.get('next_token') !== null ? 'next_token' : 'pagination_token';
  const token = params.get(tokenName);
  const offset = token === null ? 0 : readToken(tokenName, token, scope, ids.length);

  const page = ids.slice(offset, offset + maxResults);
  if (page.length === 0) return { status: 200, body: { meta: { result_count: 0 } } };
  const { data, includes } = renderTweets(page, params);
  const meta = {
    newest_id: page[0].toString(),
    oldest_id: page[page.length - 1].toString(),
    result_count: page.length,
  };
  if (offset + maxResults < ids.length) meta.next_token = makeToken(scope, offset + maxResults);
  const body = { data };
  if (includes) body.includes = includes;
  body.meta = meta;
  return { status: 200, body };
}

function tweetsLookup(params) {
  checkKnownParams(params, LOOKUP_PARAMS);
  const raw = params.get('ids');
  if (raw === null || raw === '') {
    throw new InvalidRequest('ids', [], 'The `ids` query parameter can not be empty');
  }
  const parts = raw.split(',', 101);
  if (parts.length > 100) {
    const count = raw.split(',').length;
    throw new InvalidRequest('ids', [raw.slice(0, 64)],
      `The number of values in the \`ids\` query parameter list [${count}] is not between 1 and 100`);
  }
  const wanted = parts.map((p) => idValue('ids', p));
  const found = wanted.filter((id) => !isMissing(id));
  const { data, includes } = renderTweets(found, params);
  const errors = wanted.filter(isMissing).map((id) => notFound('tweet', 'ids', id.toString()));
  const body = {};
  if (data.length) body.data = data;
  if (includes) body.includes = includes;
  if (errors.length) body.errors = errors;
  return { status: 200, body };
}

function tweetById(params, rawId) {
  checkKnownParams(params, SINGLE_PARAMS);
  const id = idValue('id', rawId);
  if (isMissing(id)) {
    // X answers 200 with only an errors array when the tweet does not exist.
    listParam(params, 'tweet.fields', TWEET_FIELDS);
    return { status: 200, body: { errors: [notFound('tweet', 'id', id.toString())] } };
  }
  const { data, includes } = renderTweets([id], params);
  const body = { data: data[0] };
  if (includes) body.includes = includes;
  return { status: 200, body };
}

function userTweets(params, rawId) {
  checkKnownParams(params, TIMELINE_PARAMS);
  const userId = idValue('id', rawId);
  const maxResults = intParam(params, 'max_results', 5, 100, 10);
  const exclude = listParam(params, 'exclude', ['replies', 'retweets']);
  void exclude; // synthetic timelines contain neither replies nor retweets
  const filters = readFilters(params);
  if (isMissing(userId)) {
    return { status: 200, body: { errors: [notFound('user', 'id', userId.toString())] } };
  }
  const ids = applyFilters(timelineSet(userId.toString()), filters);
  const scope = `timeline\0${userId}\0${filters.key}`;
  const token = params.get('pagination_token');
  const offset = token === null ? 0 : readToken('pagination_token', token, scope, Math.max(ids.length, 1));

  const page = ids.slice(offset, offset + maxResults);
  if (page.length === 0) return { status: 200, body: { meta: { result_count: 0 } } };
  const { data, includes } = renderTweets(page, params);
  const meta = {
    result_count: page.length,
    newest_id: page[0].toString(),
    oldest_id: page[page.length - 1].toString(),
  };
  if (offset + maxResults < ids.length) meta.next_token = makeToken(scope, offset + maxResults);
  if (offset > 0) meta.previous_token = makeToken(scope, Math.max(0, offset - maxResults));
  const body = { data };
  if (includes) body.includes = includes;
  body.meta = meta;
  return { status: 200, body };
}

// ---------------------------------------------------------------------------
// The filtered stream's rules: ordinary JSON endpoints, in X's shapes.

const RULE_PARAMS = new Set(['ids', 'max_results', 'pagination_token']);
const RULE_POST_PARAMS = new Set(['dry_run', 'delete_all']);
const MAX_RULES = 1000;
const MAX_RULES_BODY = 256 * 1024;
const MAX_RULE_CHARS = 1024;

function ruleId(value) {
  // A snowflake-sized id derived from the rule's text: the same rule always gets the same id.
  return (1_600_000_000_000_000_000n + (sha256(`rule\0${value}`).readBigUInt64BE(0) % 1_000_000_000_000_000_000n)).toString();
}

function rulesMeta(extra = {}) {
  return { sent: new Date().toISOString(), ...extra };
}

function streamRulesGet(params) {
  checkKnownParams(params, RULE_PARAMS);
  const max = intParam(params, 'max_results', 1, 1000, 1000);
  let rules = state.rules;
  if (params.get('ids') !== null) {
    const ids = new Set(params.get('ids').split(',').map((p) => idValue('ids', p).toString()));
    rules = rules.filter((r) => ids.has(r.id));
  }
  rules = rules.slice(0, max);
  const body = {};
  if (rules.length) body.data = rules.map((r) => ({ id: r.id, value: r.value, ...(r.tag ? { tag: r.tag } : {}) }));
  body.meta = rulesMeta({ result_count: rules.length });
  return { status: 200, body };
}

// `{"add":[{"value":"…","tag":"…"}]}` or `{"delete":{"ids":["…"]}}` (or `"values"`).
function streamRulesPost(params, text) {
  checkKnownParams(params, RULE_POST_PARAMS);
  const dryRun = params.get('dry_run') === 'true';
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidRequest('body', [], 'The request body is not valid JSON');
  }
  const keys = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
  if (keys.length !== 1 || !['add', 'delete'].includes(keys[0])) {
    throw new InvalidRequest('body', [], 'The request body must have exactly one of `add` or `delete`');
  }
  if (keys[0] === 'add') {
    const add = body.add;
    if (!Array.isArray(add) || add.length === 0 || add.length > MAX_RULES) {
      throw new InvalidRequest('add', [], `\`add\` must be a list of 1 to ${MAX_RULES} rules`);
    }
    const created = [];
    const errors = [];
    const next = [...state.rules];
    for (const rule of add) {
      const value = rule && typeof rule === 'object' ? rule.value : undefined;
      const tag = rule && typeof rule === 'object' ? rule.tag : undefined;
      if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_RULE_CHARS
        || (tag !== undefined && (typeof tag !== 'string' || tag.length > 128))) {
        throw new InvalidRequest('add', [], `Every rule needs a \`value\` of 1 to ${MAX_RULE_CHARS} characters and an optional \`tag\` of at most 128`);
      }
      const id = ruleId(value);
      if (next.some((r) => r.value === value)) {
        errors.push({ value, id, title: 'DuplicateRule', type: 'https://api.twitter.com/2/problems/duplicate-rules' });
        continue;
      }
      if (next.length >= MAX_RULES) {
        errors.push({ value, title: 'RulesCapExceeded', type: 'https://api.twitter.com/2/problems/rule-cap' });
        continue;
      }
      const made = { id, value, ...(tag ? { tag } : {}) };
      next.push(made);
      created.push({ value, ...(tag ? { tag } : {}), id });
    }
    if (!dryRun) state.rules = next;
    const out = {};
    if (created.length) out.data = created;
    out.meta = rulesMeta({ summary: { created: created.length, not_created: errors.length, valid: created.length, invalid: errors.length } });
    if (errors.length) out.errors = errors;
    return { status: created.length ? 201 : 200, body: out };
  }
  const del = body.delete;
  const ids = del && Array.isArray(del.ids) ? del.ids : null;
  const values = del && Array.isArray(del.values) ? del.values : null;
  if (!del || typeof del !== 'object' || (ids === null) === (values === null) || (ids ?? values).length === 0
    || (ids ?? values).some((v) => typeof v !== 'string')) {
    throw new InvalidRequest('delete', [], '`delete` must name a non-empty list of `ids` or `values`');
  }
  const gone = state.rules.filter((r) => (ids ? ids.includes(r.id) : values.includes(r.value)));
  if (!dryRun) state.rules = state.rules.filter((r) => !gone.includes(r));
  const missing = (ids ?? values).length - gone.length;
  const out = { meta: rulesMeta({ summary: { deleted: gone.length, not_deleted: missing } }) };
  return { status: 200, body: out };
}

// ---------------------------------------------------------------------------
// Streams: `GET /2/tweets/search/stream` and `GET /2/tweets/sample/stream` hold the response
// open and send one post a line (`{"data":{…},"matching_rules":[…]}\r\n`; the sample stream
// has no rules), with a `\r\n` keep-alive whenever nothing else was sent for `keepalive_ms`.
// POST /__origin/stream sets the rate, how many lines, what happens after them, and lines to
// slip in (one that is not JSON, one far too long).

const STREAM_PARAMS = new Set([...COMMON_PARAMS, 'backfill_minutes', 'partition', 'start_time', 'end_time']);
const STREAM_THEN = new Set(['end', 'cut', 'disconnect', 'silent']);
const INJECT_KINDS = new Set(['garbage', 'long']);
const MAX_RATE = 1_000_000;
const MAX_STREAM_LINES = 100_000_000;
const MAX_LONG_BYTES = 16 * 1024 * 1024;
const KEEPALIVE = '\r\n';

// X's operational-disconnect line: the stream ends after it.
const OPERATIONAL_DISCONNECT = {
  errors: [{
    title: 'operational-disconnect',
    disconnect_type: 'OperationalDisconnect',
    detail: 'This stream has been disconnected for operational reasons.',
    type: 'https://api.twitter.com/2/problems/operational-disconnect',
  }],
};

function streamStart(params, withRules) {
  checkKnownParams(params, STREAM_PARAMS);
  intParam(params, 'backfill_minutes', 0, 5, 0);
  intParam(params, 'partition', 1, 20, 1);
  readFilters(params);
  renderTweets([], params); // validates tweet.fields, expansions and the other field lists
  return { status: 200, stream: { withRules } };
}

function streamLine(params, withRules) {
  const n = state.streamSeq++;
  const id = makeSnowflake(ANCHOR_MS + n * 1000, fnv32(`stream:${n}`), n & 63);
  const { data, includes } = renderTweets([id], params);
  const line = { data: data[0] };
  if (includes) line.includes = includes;
  if (withRules) {
    const rule = state.rules[n % state.rules.length];
    line.matching_rules = [{ id: rule.id, tag: rule.tag ?? '' }];
  }
  return JSON.stringify(line);
}

function serveStream(req, res, params, key, withRules) {
  const config = state.stream;
  const counts = state.streams;
  res.writeHead(200, { 'content-type': JSON_TYPE, 'cache-control': 'no-store' });
  res.flushHeaders();
  countServed(key, 0);
  counts.opened += 1;
  counts.open += 1;
  const started = Date.now();
  let sent = 0; // regular post lines
  let closed = false;
  let finished = false;
  let timer = null;
  let keepalive = null;
  const inject = [...config.inject].sort((a, b) => a.after - b.after);

  const stop = () => {
    finished = true;
    clearTimeout(timer);
    clearTimeout(keepalive);
  };
  res.on('close', () => {
    closed = true;
    stop();
    counts.open -= 1;
  });
  const armKeepalive = () => {
    clearTimeout(keepalive);
    if (finished) return;
    keepalive = setTimeout(() => {
      if (closed || finished) return;
      res.write(KEEPALIVE);
      counts.keepalives += 1;
      armKeepalive();
    }, config.keepalive_ms);
  };
  // Lines slipped in after `sent` post lines.
  const injectDue = (parts) => {
    while (inject.length && inject[0].after <= sent) {
      const { kind, bytes } = inject.shift();
      if (kind === 'garbage') {
        parts.push(`<html>this line is not JSON</html>${KEEPALIVE}`);
        counts.garbage += 1;
      } else {
        const post = JSON.parse(streamLine(params, withRules));
        post.data.text = 'x'.repeat(bytes);
        parts.push(`${JSON.stringify(post)}${KEEPALIVE}`);
        counts.long += 1;
      }
    }
  };
  const finish = () => {
    stop();
    if (config.then === 'end') {
      res.end();
    } else if (config.then === 'disconnect') {
      res.end(`${JSON.stringify(OPERATIONAL_DISCONNECT)}${KEEPALIVE}`);
      counts.errors += 1;
    } else if (config.then === 'cut') {
      // Half a post line, then the connection dies: the line never ends.
      const line = streamLine(params, withRules);
      res.write(line.slice(0, Math.floor(line.length / 2)));
      counts.cut += 1;
      setTimeout(() => req.socket.destroy(), 50);
    }
    // 'silent': the response stays open and nothing more is sent, not even keep-alives.
  };
  // Every tick writes the lines due by then at the configured rate in one write (at most 64 KiB
  // of them), as a server flushing what it has; ticks on schedule are at least 10 ms apart, so a
  // fast stream arrives in a few hundred chunks a second rather than one chunk a line.
  const tick = () => {
    if (closed || finished) return;
    const parts = [];
    let size = 0;
    injectDue(parts);
    const due = Math.floor(((Date.now() - started) / 1000) * config.rate) + 1;
    const limit = config.lines === null ? Infinity : config.lines;
    while (sent < due && sent < limit && size < 65_536 && (!withRules || state.rules.length > 0)) {
      const line = `${streamLine(params, withRules)}${KEEPALIVE}`;
      parts.push(line);
      size += line.length;
      sent += 1;
      counts.lines += 1;
      state.items += 1;
      injectDue(parts);
    }
    if (parts.length) {
      armKeepalive();
      if (!res.write(parts.join(''))) {
        res.once('drain', tick);
        return;
      }
    }
    if (sent >= limit) {
      finish();
      return;
    }
    // Behind its rate (the last write stopped at 64 KiB, or the reader was slow): the next write
    // goes at once, so a reader that keeps up sets the pace; otherwise it waits for the lines due.
    const next = Math.ceil(((sent / config.rate) * 1000) - (Date.now() - started));
    timer = setTimeout(tick, next <= 0 ? 0 : Math.min(Math.max(next, 10), 1000));
  };
  armKeepalive();
  tick();
}

// ---------------------------------------------------------------------------
// A second demo API in two other common response shapes, for Tollgate's per-endpoint shapes:
//
//   GET /v1/products?page=&per_page=   a top-level array of products with numeric ids
//   GET /v1/products/:id               one product object
//   GET /r/:board/new?limit=&after=    a nested listing: {"kind":"Listing","data":{"children":[
//                                      {"kind":"t3","data":{"id":…}}, …],"dist":n,"after":…}}
//
// Its own errors are `{"error":{"code":…,"message":…}}`. Every endpoint returns the items it
// served, which the origin's stats count like X's `data`.

const CATALOGUE_SIZE = 5000;
const FIRST_PRODUCT = 100001;
const BOARD_POSTS = 1000;

const catalogueError = (status, code, message) => ({ status, body: { error: { code, message } }, items: 0 });

function positiveInt(params, name, min, max, dflt) {
  const raw = params.get(name);
  if (raw === null) return dflt;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < min || Number(raw) > max) return null;
  return Number(raw);
}

function makeProduct(n) {
  const h = fnv32(`product:${n}`);
  return {
    id: FIRST_PRODUCT + n,
    sku: `SKU-${String(FIRST_PRODUCT + n).padStart(7, '0')}`,
    name: `${FIRST[h & 7]} ${LAST[(h >>> 3) & 7]} lamp, model ${n}`,
    price_cents: 999 + (h % 40_000),
    currency: 'EUR',
    stock: (h >>> 8) % 120,
    supplier: { id: 500 + ((h >>> 16) % 8), name: `Supplier ${(h >>> 16) % 8}` },
  };
}

function productsPage(params) {
  const page = positiveInt(params, 'page', 1, 100_000, 1);
  const perPage = positiveInt(params, 'per_page', 1, 100, 10);
  if (page === null) return catalogueError(400, 'invalid_parameter', '`page` must be a whole number from 1');
  if (perPage === null) return catalogueError(400, 'invalid_parameter', '`per_page` must be a whole number from 1 to 100');
  const first = (page - 1) * perPage;
  const items = [];
  for (let n = first; n < Math.min(first + perPage, CATALOGUE_SIZE); n++) items.push(makeProduct(n));
  return { status: 200, body: items, items: items.length };
}

function productById(rawId) {
  const n = /^\d{1,9}$/.test(rawId) ? Number(rawId) - FIRST_PRODUCT : -1;
  if (n < 0 || n >= CATALOGUE_SIZE) return catalogueError(404, 'not_found', `No product with id ${rawId.slice(0, 32)}`);
  return { status: 200, body: makeProduct(n), items: 1 };
}

// A board's posts, newest first: ids in base 36 from a per-board base, so they differ across boards.
function boardPostId(board, i) {
  return ((seed32(`board:${board}`) % 100_000) * 10_000 + BOARD_POSTS - i).toString(36);
}

function boardListing(params, rawBoard) {
  const board = decodeURIComponent(rawBoard);
  if (!/^[A-Za-z0-9_]{1,32}$/.test(board)) return catalogueError(404, 'not_found', 'No such board');
  const limit = positiveInt(params, 'limit', 1, 100, 25);
  if (limit === null) return catalogueError(400, 'invalid_parameter', '`limit` must be a whole number from 1 to 100');
  let start = 0;
  const after = params.get('after');
  if (after !== null) {
    const i = [...Array(BOARD_POSTS).keys()].find((k) => `t3_${boardPostId(board, k)}` === after);
    if (i === undefined) return catalogueError(400, 'invalid_parameter', '`after` is not a post of this board');
    start = i + 1;
  }
  const children = [];
  for (let i = start; i < Math.min(start + limit, BOARD_POSTS); i++) {
    const id = boardPostId(board, i);
    const h = fnv32(`${board}:${id}`);
    children.push({
      kind: 't3',
      data: {
        id,
        name: `t3_${id}`,
        title: tweetText(`${board}:${id}`).slice(0, 80),
        author: USER_POOL[h & 63].username,
        subreddit: board,
        created_utc: Math.floor(ANCHOR_MS / 1000) - i * 90,
        score: h % 500,
        num_comments: (h >>> 9) % 40,
      },
    });
  }
  const last = children.at(-1);
  const more = start + limit < BOARD_POSTS;
  const data = { after: more && last ? last.data.name : null, before: null, dist: children.length, modhash: '', children };
  return { status: 200, body: { kind: 'Listing', data }, items: children.length };
}

// Route templates double as the stats keys, keeping by_path bounded no matter
// which ids clients ask for.
function route(pathname) {
  if (pathname === '/2/tweets/search/recent') return { key: pathname, run: searchRecent };
  if (pathname === '/2/tweets/search/stream') return { key: pathname, run: (p) => streamStart(p, true) };
  if (pathname === '/2/tweets/sample/stream') return { key: pathname, run: (p) => streamStart(p, false) };
  if (pathname === '/2/tweets/search/stream/rules') {
    return { key: pathname, run: streamRulesGet, post: streamRulesPost };
  }
  if (pathname === '/2/tweets') return { key: pathname, run: tweetsLookup };
  let m = /^\/2\/tweets\/([^/]+)$/.exec(pathname);
  if (m) return { key: '/2/tweets/:id', run: (p) => tweetById(p, m[1]) };
  m = /^\/2\/users\/([^/]+)\/tweets$/.exec(pathname);
  if (m) return { key: '/2/users/:id/tweets', run: (p) => userTweets(p, m[1]) };
  if (pathname === '/v1/products') return { key: pathname, run: productsPage };
  m = /^\/v1\/products\/([^/]+)$/.exec(pathname);
  if (m) return { key: '/v1/products/:id', run: () => productById(m[1]) };
  m = /^\/r\/([^/]+)\/new$/.exec(pathname);
  if (m) return { key: '/r/:board/new', run: (p) => boardListing(p, m[1]) };
  return null;
}

// ---------------------------------------------------------------------------
// Edge context verification

// The reason a context is refused, or null; the verified client address goes to state.last.
function verifyContext(req) {
  const header = req.headers['x-tollgate-context'];
  if (header === undefined || header === '') return 'missing context';
  // Node joins repeated headers with ", ", which fails the pattern as intended.
  const m = typeof header === 'string' ? CONTEXT_RE.exec(header) : null;
  if (!m) return 'malformed context';
  const [, t, account, app, client, sig] = m;
  const now = Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(t)) > CONTEXT_MAX_SKEW_S) return 'stale context';
  const message = `v2\n${t}\n${req.method}\n${req.url}\n${account}\n${app}\n${client}`;
  const expected = crypto.createHmac('sha256', CONTEXT_KEY_BYTES).update(message, 'utf8').digest();
  const given = Buffer.from(sig, 'hex');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return 'bad signature';
  state.last.client = client;
  return null;
}

// ---------------------------------------------------------------------------
// API dispatch

function splitUrl(rawUrl) {
  // Use the request target as sent; WHATWG URL parsing would rewrite "//x" as a host.
  let target = rawUrl;
  if (!target.startsWith('/')) {
    try {
      const u = new URL(target);
      target = u.pathname + u.search;
    } catch {
      return null;
    }
  }
  const q = target.indexOf('?');
  const pathname = q === -1 ? target : target.slice(0, q);
  const search = q === -1 ? '' : target.slice(q + 1);
  let params;
  try {
    params = new URLSearchParams(search);
  } catch {
    return null;
  }
  return { pathname, params };
}

function countServed(key, items) {
  state.served += 1;
  state.byPath[key] = (state.byPath[key] ?? 0) + 1;
  state.items += items;
}

function itemCount(body) {
  if (Array.isArray(body?.data)) return body.data.length;
  return body && body.data && typeof body.data === 'object' ? 1 : 0;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function handleApi(req, res, parsed) {
  state.last = { method: req.method, url: req.url, headers: { ...req.headers } };

  const why = verifyContext(req);
  if (why) {
    state.refused += 1;
    sendProblem(res, 403, 'Forbidden', why);
    return;
  }

  const matched = parsed ? route(parsed.pathname) : null;
  const key = matched ? matched.key : '(unmatched)';
  const fault = state.fault;

  if (fault.mode === 'delay' && fault.delay_ms > 0) {
    await sleep(fault.delay_ms);
    if (res.destroyed) return;
  } else if (fault.mode === 'reset') {
    state.resets += 1;
    req.socket.destroy();
    return;
  } else if (fault.mode === 'truncate') {
    // Headers and the start of a JSON body, then the connection dies midway.
    state.resets += 1;
    res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': '100000' });
    res.write('{"data":[{"id":"1","text":"cut');
    setTimeout(() => req.socket.destroy(), 50);
    return;
  } else if (fault.mode === 'garbage') {
    countServed(key, 0);
    send(res, 200, JSON_TYPE, '<html>oops, this is not JSON');
    return;
  } else if (fault.mode === 'huge') {
    streamHuge(res, parsed ? parsed.params : new URLSearchParams(), key);
    return;
  } else if (fault.mode === 'status') {
    countServed(key, 0);
    const status = fault.status;
    const title = http.STATUS_CODES[status] ?? 'Error';
    const extra = status === 429
      ? { 'x-rate-limit-limit': '450', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(Math.floor(Date.now() / 1000) + 900) }
      : {};
    sendJson(res, status, { title, detail: title, type: 'about:blank', status }, extra);
    return;
  }

  if (!parsed || !matched) {
    countServed(key, 0);
    sendProblem(res, 404, 'Not Found Error', `No endpoint matches ${parsed ? parsed.pathname : 'the request target'}`);
    return;
  }
  const allow = matched.post ? 'GET, POST' : 'GET';
  if (req.method !== 'GET' && !(req.method === 'POST' && matched.post)) {
    countServed(key, 0);
    sendProblem(res, 405, 'Method Not Allowed', `${req.method} is not supported on ${matched.key}`, { allow });
    return;
  }
  let posted = null;
  if (req.method === 'POST') {
    posted = await readBody(req, MAX_RULES_BODY);
    if (res.destroyed) return;
    if (posted === null) {
      countServed(key, 0);
      res.setHeader('connection', 'close');
      sendProblem(res, 413, 'Payload Too Large', `body must be at most ${MAX_RULES_BODY} bytes`);
      return;
    }
  }

  let result;
  try {
    result = posted === null ? matched.run(parsed.params) : matched.post(parsed.params, posted);
  } catch (err) {
    if (!(err instanceof InvalidRequest)) throw err;
    result = { status: 400, body: err.body() };
  }
  if (result.stream) {
    serveStream(req, res, parsed.params, key, result.stream.withRules);
    return;
  }
  // Like many servers, this one honours byte ranges; the `partial` fault sends one unasked.
  const range = fault.mode === 'partial' ? 'bytes=0-63' : req.headers.range;
  const slice = result.status === 200 && typeof range === 'string' ? /^bytes=(\d{1,9})-(\d{1,9})$/.exec(range) : null;
  if (slice) {
    const whole = Buffer.from(JSON.stringify(result.body), 'utf8');
    const first = Number(slice[1]);
    const last = Math.min(Number(slice[2]), whole.length - 1);
    if (first <= last) {
      countServed(key, 0);
      send(res, 206, JSON_TYPE, whole.subarray(first, last + 1), { 'content-range': `bytes ${first}-${last}/${whole.length}` });
      return;
    }
  }
  countServed(key, result.items ?? itemCount(result.body));
  sendJson(res, result.status, result.body);
}

// A ~20 MB search response, written chunk by chunk with backpressure so memory
// stays flat; it exercises the enforcer's body limits and streaming.
const HUGE_TARGET_BYTES = 20 * 1024 * 1024;

function streamHuge(res, params, key) {
  let fields;
  try {
    fields = listParam(params, 'tweet.fields', TWEET_FIELDS);
  } catch {
    fields = new Set();
  }
  res.writeHead(200, { 'content-type': JSON_TYPE, 'cache-control': 'no-store' });
  // Counted up front and per chunk, so a client that hangs up midway is still accounted for.
  countServed(key, 0);
  let written = 0;
  let count = 0;
  let newest = null;
  let oldest = null;
  let aborted = false;
  res.on('close', () => { aborted = true; });

  const nextChunk = () => {
    const parts = [];
    let bytes = 0;
    while (bytes < 64 * 1024 && written + bytes < HUGE_TARGET_BYTES) {
      const id = makeSnowflake(ANCHOR_MS - count * 1000, fnv32(`huge:${count}`), count);
      const json = (count === 0 ? '' : ',') + JSON.stringify(makeTweet(id, fields));
      if (newest === null) newest = id;
      oldest = id;
      count += 1;
      state.items += 1;
      parts.push(json);
      bytes += json.length;
    }
    written += bytes;
    return parts.join('');
  };

  const pump = () => {
    while (!aborted) {
      if (written >= HUGE_TARGET_BYTES) {
        const meta = { newest_id: newest.toString(), oldest_id: oldest.toString(), result_count: count };
        res.end(`],"meta":${JSON.stringify(meta)}}`);
        return;
      }
      if (!res.write(nextChunk())) {
        res.once('drain', pump);
        return;
      }
    }
  };
  res.write('{"data":[');
  pump();
}

// ---------------------------------------------------------------------------
// Test hooks

const MAX_HOOK_BODY = 4096;

function readBody(req, limit) {
  return new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => { if (!done) { done = true; resolve(Buffer.concat(chunks).toString('utf8')); } });
    req.on('error', () => { if (!done) { done = true; resolve(null); } });
  });
}

// A hook's body as a JSON object, or the reason it is not one.
function parseObject(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return 'body is not valid JSON';
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'body must be a JSON object';
  return body;
}

function parseFault(text) {
  const body = parseObject(text);
  if (typeof body === 'string') return body;
  if (!VALID_FAULTS.has(body.mode)) return `mode must be one of ${[...VALID_FAULTS].join(', ')}`;
  const fault = { mode: body.mode, delay_ms: 0, status: 0 };
  if (body.mode === 'delay') {
    const d = body.delay_ms;
    if (!Number.isInteger(d) || d < 0 || d > MAX_DELAY_MS) return `delay_ms must be an integer 0..${MAX_DELAY_MS}`;
    fault.delay_ms = d;
  }
  if (body.mode === 'status') {
    const s = body.status;
    if (!Number.isInteger(s) || s < 200 || s > 599 || s === 204 || s === 304) {
      return 'status must be an integer 200..599 that allows a body';
    }
    fault.status = s;
  }
  return fault;
}

// `{"rate":5,"lines":15,"then":"end","keepalive_ms":20000,"inject":[{"after":3,"kind":"garbage"}]}`:
// every field optional, defaults as in STREAM_DEFAULTS. `then` is what follows the last line:
// `end` the response, `cut` a line in half and drop the connection, send the operational
// `disconnect` error line and end, or go `silent` (open, sending nothing, not even keep-alives).
function parseStream(text) {
  const body = parseObject(text);
  if (typeof body === 'string') return body;
  const known = new Set(Object.keys(STREAM_DEFAULTS));
  const unknown = Object.keys(body).find((k) => !known.has(k));
  if (unknown !== undefined) return `unknown field ${JSON.stringify(unknown)}; fields: ${[...known].join(', ')}`;
  const out = { ...STREAM_DEFAULTS, ...body };
  if (typeof out.rate !== 'number' || !(out.rate > 0 && out.rate <= MAX_RATE)) return `rate must be a number of lines a second, above 0 and at most ${MAX_RATE}`;
  if (out.lines !== null && (!Number.isInteger(out.lines) || out.lines < 0 || out.lines > MAX_STREAM_LINES)) {
    return `lines must be null (endless) or an integer 0..${MAX_STREAM_LINES}`;
  }
  if (!STREAM_THEN.has(out.then)) return `then must be one of ${[...STREAM_THEN].join(', ')}`;
  if (!Number.isInteger(out.keepalive_ms) || out.keepalive_ms < 10 || out.keepalive_ms > 600_000) {
    return 'keepalive_ms must be an integer 10..600000';
  }
  if (!Array.isArray(out.inject) || out.inject.length > 16) return 'inject must be a list of at most 16 lines';
  const inject = [];
  for (const line of out.inject) {
    if (!line || typeof line !== 'object' || Array.isArray(line)) return 'each inject entry must be an object';
    const { after, kind, bytes } = line;
    if (!Number.isInteger(after) || after < 0 || after > MAX_STREAM_LINES) return `inject: after must be an integer 0..${MAX_STREAM_LINES}`;
    if (!INJECT_KINDS.has(kind)) return `inject: kind must be one of ${[...INJECT_KINDS].join(', ')}`;
    if (kind === 'long' && (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_LONG_BYTES)) {
      return `inject: a long line needs bytes, an integer 1..${MAX_LONG_BYTES}`;
    }
    if (kind !== 'long' && bytes !== undefined) return 'inject: bytes is for long lines only';
    inject.push(kind === 'long' ? { after, kind, bytes } : { after, kind });
  }
  out.inject = inject;
  return out;
}

async function handleHook(req, res, pathname) {
  const hooks = {
    '/__origin/stats': 'GET',
    '/__origin/last': 'GET',
    '/__origin/reset': 'POST',
    '/__origin/fault': 'POST',
    '/__origin/stream': 'GET, POST',
  };
  const method = hooks[pathname];
  if (!method) return sendProblem(res, 404, 'Not Found Error', `No test hook at ${pathname}`);
  if (!method.split(', ').includes(req.method)) {
    return sendProblem(res, 405, 'Method Not Allowed', `${pathname} takes ${method}`, { allow: method });
  }

  if (pathname === '/__origin/stream' && req.method === 'GET') {
    return sendJson(res, 200, { config: state.stream, ...state.streams });
  }

  if (pathname === '/__origin/stats') {
    return sendJson(res, 200, {
      served: state.served,
      refused: state.refused,
      resets: state.resets,
      by_path: state.byPath,
      items: state.items,
    });
  }
  if (pathname === '/__origin/last') {
    return sendJson(res, 200, state.last ?? { method: null, url: null, headers: {} });
  }
  if (pathname === '/__origin/reset') {
    resetState();
    res.writeHead(204);
    return res.end();
  }
  const text = await readBody(req, MAX_HOOK_BODY);
  if (text === null) {
    res.setHeader('connection', 'close');
    return sendProblem(res, 400, 'Bad Request', `body must be at most ${MAX_HOOK_BODY} bytes`);
  }
  if (pathname === '/__origin/stream') {
    const stream = parseStream(text);
    if (typeof stream === 'string') return sendProblem(res, 400, 'Bad Request', stream);
    state.stream = stream;
    res.writeHead(204);
    return res.end();
  }
  const fault = parseFault(text);
  if (typeof fault === 'string') return sendProblem(res, 400, 'Bad Request', fault);
  state.fault = fault;
  res.writeHead(204);
  res.end();
}

// ---------------------------------------------------------------------------
// Server

async function handle(req, res) {
  const parsed = splitUrl(req.url ?? '');
  const pathname = parsed ? parsed.pathname : '';
  if (pathname === '/2' || /^\/(2|v1|r)\//.test(pathname)) return handleApi(req, res, parsed);
  if (pathname.startsWith('/__origin/')) return handleHook(req, res, pathname);
  // Malformed targets are still API traffic if they are not hooks: they must be signed.
  if (!parsed) return handleApi(req, res, null);
  sendProblem(res, 404, 'Not Found Error', 'Only /2/..., /v1/... and /r/... API paths are served here');
}

const server = http.createServer({ keepAlive: true }, (req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`demo origin: internal error: ${err && err.stack ? err.stack : err}\n`);
    if (!res.headersSent) sendProblem(res, 500, 'Internal Server Error', 'The demo origin failed to answer');
    else res.destroy();
  });
});
server.keepAliveTimeout = 30_000;
server.headersTimeout = 20_000;
server.requestTimeout = 150_000; // above the largest configurable delay

server.on('error', (err) => {
  process.stderr.write(`demo origin: ${err.message}\n`);
  process.exit(2);
});

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  const host = HOST.includes(':') ? `[${HOST}]` : HOST;
  process.stdout.write(`demo origin listening on http://${host}:${port}\n`);
});

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeAllConnections();
  // Delayed responses hold no sockets open after closeAllConnections, but be certain.
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
