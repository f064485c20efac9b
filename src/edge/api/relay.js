// The byte-moving half of a stream's pump (src/edge/api/stream.rs), in the runtime's own script.
//
// A run reads the origin's body a chunk at a time, hands each chunk to `decide` (the pump's
// per-line decisions, a plain call into wasm that returns the bytes to send on) and writes what
// it returns to the client. One write is in flight at a time: the next chunk is read while the
// last one's lines are being written, and `decide` is called with it only once that write is
// done (so `decide` knows that the lines before have reached the client). The pump steps in only
// when it must: it pauses the run when lines wait for the budget (`pause`, called from inside
// `decide`), and halts it when the stream must end (`halt`, then the reader is cancelled).
//
// A run resolves, once its last write is done, with a number:
//   0  paused (or the run was asked to write only),
//   1  the origin ended its response,
//   2  the origin's connection broke,
//   3  the client is gone: a write failed (that write's lines did not reach it).

const PAUSED = 0;
const ENDED = 1;
const CUT = 2;
const GONE = 3;

// The most a read takes from the origin at once. The runtime's default reader hands over at most
// 4 KiB a read; a reader that brings its own buffer takes all that has arrived, up to this much,
// so a busy stream costs one read, one decision and one write per this many bytes, not per 4 KiB.
// The buffer is reused from read to read (the decisions copy what they keep), so memory stays flat.
const READ_BYTES = 64 * 1024;

export class Relay {
  constructor(body, writer) {
    // A byte stream (what the runtime's fetch returns) is read into the relay's own buffer; any
    // other stream through the default reader.
    try {
      this.reader = body.getReader({ mode: 'byob' });
      this.byob = true;
    } catch {
      this.reader = body.getReader();
      this.byob = false;
    }
    // The buffer the next read fills (taken by a read, given back once its chunk is decided).
    this.spare = null;
    this.writer = writer;
    this.paused = false;
    this.halted = false;
    // How the origin's side ended (ENDED or CUT), once it did.
    this.end = 0;
    // Since when the run has waited on the origin (ms since the epoch, the runtime's clock); 0
    // while it waits on nothing or on the client.
    this.since = 0;
    // Chunks read from the origin and writes to the client, for the stream's last log line.
    this.reads = 0;
    this.writes = 0;
  }

  /** Lines wait for the budget: no more is read until the next run. */
  pause() {
    this.paused = true;
  }

  /** The stream ends: the run stops at its next turn (the pump cancels the reader too). */
  halt() {
    this.halted = true;
  }

  /** How long the run has waited on the origin, in ms (0 when it is not waiting on it). */
  get quiet() {
    return this.since === 0 ? 0 : Math.max(0, Date.now() - this.since);
  }

  write(bytes) {
    this.writes += 1;
    return this.writer.write(bytes).then(() => true, () => false);
  }

  /** The buffer for the next read: the spare one, or a new one. */
  buffer() {
    const spare = this.spare;
    this.spare = null;
    return new Uint8Array(spare ?? new ArrayBuffer(READ_BYTES));
  }

  /** Cancels the origin's side (a read waiting on it ends); failures change nothing. */
  cancel() {
    return this.reader.cancel().catch(() => {});
  }

  async read() {
    this.since = Date.now();
    try {
      const r = this.byob ? await this.reader.read(this.buffer()) : await this.reader.read();
      if (r.done) return ENDED;
      this.reads += 1;
      return r.value;
    } catch {
      return CUT;
    } finally {
      this.since = 0;
    }
  }

  /**
   * Writes `out` (if any), then, if `read`, moves the stream until it pauses, halts or ends,
   * calling `decide` for each chunk.
   */
  async run(out, read, decide) {
    let write = out ? this.write(out) : null;
    if (read) {
      this.paused = false;
      while (!this.paused && !this.halted && !this.end) {
        const got = await this.read();
        if (typeof got === 'number') {
          this.end = got;
          break;
        }
        if (write !== null && !(await write)) return GONE;
        write = null;
        if (this.halted) break;
        const next = decide(got);
        // The decisions copied what they keep: the chunk's buffer takes the next read.
        if (this.byob) this.spare = got.buffer;
        // The pump could not decide (it never fails so): nothing more passes undecided.
        if (next === undefined) {
          this.end = CUT;
          break;
        }
        if (next.byteLength > 0) write = this.write(next);
      }
    }
    if (write !== null && !(await write)) return GONE;
    return read ? this.end : PAUSED;
  }
}
