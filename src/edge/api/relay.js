// The byte-moving half of a stream's pump (src/edge/api/stream.rs), in the runtime's own script:
// one call moves one step, and everything inside a step runs here, with no call into wasm.
//
// A step writes the lines the pump decided on to the client and, meanwhile, reads the origin: it
// ends when the write is done and at least one chunk has come, with every chunk that came during
// the write joined into one (at most about `max` bytes). So while the client keeps up, each chunk
// goes on as soon as it comes (the first line of a stream is never held back); when the client is
// slower than the origin, the chunks that come meanwhile are decided and written together, in
// fewer and larger writes. One write is in flight at a time, and at most one step's bytes are
// held here.
//
// A step resolves with the bytes read (a Uint8Array), or with a number:
//   0  written (the step was asked to write only),
//   1  the origin ended its response (the step's bytes, if any, came first),
//   2  the origin's connection broke (likewise),
//   3  the client is gone: the write failed.

const WRITTEN = 0;
const ENDED = 1;
const CUT = 2;
const GONE = 3;

export class Relay {
  constructor(reader, writer, max) {
    this.reader = reader;
    this.writer = writer;
    this.max = max;
    // The read under way, if a step ended before it did: the next step waits for it.
    this.pending = null;
    // How the origin's side ended (ENDED or CUT), once it did.
    this.end = 0;
    // When the last chunk came (ms since the epoch; the runtime's clock): the pump's silence
    // check asks, as a step can last as long as a write does.
    this.heard = Date.now();
    // Chunks read from the origin and writes to the client, for the stream's last log line.
    this.reads = 0;
    this.writes = 0;
  }

  step(out, read) {
    const write = out ? this.writer.write(out) : null;
    if (write) this.writes += 1;
    if (read) return this.gather(write);
    return write ? write.then(() => WRITTEN, () => GONE) : Promise.resolve(WRITTEN);
  }

  async gather(write) {
    let writing = write !== null;
    let failed = false;
    const wrote = write?.then(() => { writing = false; }, () => { writing = false; failed = true; });
    const parts = [];
    let size = 0;
    for (;;) {
      if (failed) return GONE;
      if (!writing && (parts.length > 0 || this.end)) break;
      if (this.end || size >= this.max) {
        await wrote;
        continue;
      }
      if (!this.pending) {
        this.pending = this.reader.read().then((r) => (r.done ? ENDED : r.value), () => CUT);
      }
      const got = await (writing ? Promise.race([this.pending, wrote]) : this.pending);
      // The write settled first: the read stays under way.
      if (got === undefined) continue;
      this.pending = null;
      this.heard = Date.now();
      if (typeof got === 'number') {
        this.end = got;
      } else if (got.byteLength > 0) {
        this.reads += 1;
        parts.push(got);
        size += got.byteLength;
      }
    }
    if (parts.length === 0) return this.end;
    if (parts.length === 1) return parts[0];
    const joined = new Uint8Array(size);
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.byteLength;
    }
    return joined;
  }
}
