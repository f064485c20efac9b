// The call to the origin in one crossing from wasm (used by src/edge/api/origin.rs).
//
// The client's headers are copied inside the runtime, the ones that stay at the edge dropped and
// the edge's own set; the fetch is bounded by the runtime's own timer, which covers the wait for
// the response head only and is cleared as soon as it arrives, so a body that streams on for
// longer is not cut. A fetch the timer aborted rejects with TIMED_OUT; any other failure with the
// runtime's own error.
//
// When the delivery will read the whole body (wasm decides, from the head: `reads`), it is read
// here too, so that the request waits once for the response and its body rather than twice. The
// entry (src/edge/entry.mjs) does that wait, and hands what it got back to wasm.

export const TIMED_OUT = 'timed out';

/**
 * @param {string} url the origin's URL with the request's path and query
 * @param {string} method
 * @param {Headers} source the client's headers
 * @param {string} drop names to drop, each followed by a line feed
 * @param {string} set names and values to set, `name \n value \n` each
 * @param {ReadableStream | null | undefined} body the client's body, passed on unread
 * @param {number} timeoutMs
 * @param {(status: number, contentType: string | null, hasBody: boolean, delivery: number) => boolean} reads
 *   whether the delivery reads the whole body of a response with this head
 * @param {number} delivery what the delivery does with the body (`whole_body::Delivery::bits`)
 * @returns {Promise<[Response, ArrayBuffer | null]>} the response, and its body if it was read
 */
export async function forward(url, method, source, drop, set, body, timeoutMs, reads, delivery) {
  const headers = new Headers(source);
  for (const name of lines(drop)) headers.delete(name);
  const pairs = lines(set);
  for (let i = 0; i + 1 < pairs.length; i += 2) headers.set(pairs[i], pairs[i + 1]);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(url, { method, headers, redirect: 'manual', signal: controller.signal, body: body ?? undefined });
  } catch (e) {
    throw controller.signal.aborted ? TIMED_OUT : e;
  } finally {
    clearTimeout(timer);
  }
  if (!reads(response.status, response.headers.get('content-type'), response.body !== null, delivery)) {
    return [response, null];
  }
  return [response, await response.arrayBuffer()];
}

function lines(text) {
  if (text === '') return [];
  const parts = text.split('\n');
  parts.pop();
  return parts;
}
