// The pass-through baseline in wasm (Cargo.toml says why): the same forwarding as
// bench/baseline/worker.mjs, done in Rust. `make bench-cpu` builds it and starts it with
// `wrangler dev`, passing ORIGIN_URL and CONTEXT_SIGNING_KEY with --var.
import { PassThrough } from './build/index.js';

export default {
  fetch(request, env) {
    if (!env.CONTEXT_SIGNING_KEY || !env.ORIGIN_URL) {
      return new Response('baseline: ORIGIN_URL and CONTEXT_SIGNING_KEY must be set\n', { status: 500 });
    }
    return PassThrough.forward(request, env.ORIGIN_URL, env.CONTEXT_SIGNING_KEY, env.BASELINE_ACCOUNT, env.BASELINE_APP);
  },
};
