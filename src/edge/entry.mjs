// The enforcer's entry (wrangler.toml's `main`): the runtime drives each request through the
// request path that wasm exports (src/edge/api/entry.rs), in two calls that return at once, and
// does the waiting itself. An admitted request waits once, for the origin's response (and its
// body, when the delivery reads it whole): here, with the runtime's own `await`.
import { RequestPath } from '../../build/enforcer/index.js';

export default {
  async fetch(request, env, ctx) {
    let step = RequestPath.begin(request, env, ctx);
    if (step instanceof Promise) step = await step;
    // Answered without the origin: a refusal, an own path, the customer's own usage.
    if (step instanceof Response) return step;
    const [ticket, call] = step;
    let ok = true;
    let answer;
    try {
      answer = await call;
    } catch (error) {
      ok = false;
      answer = error;
    }
    return RequestPath.finish(ticket, ok, answer);
  },
};
