// The byte-moving half of a stream's pump (src/edge/api/stream.rs), in the runtime's own script.
//
// A run reads the origin's body a chunk at a time and hands each chunk to `decide` (the pump's
// per-line decisions, a plain call into wasm): the pump keeps the lines it lets pass and says how
// many bytes it holds. The relay writes them to the client with `take` (which hands them over,
// and tells the pump that the write before is done, so its lines reached the client). One write
// is in flight at a time, and the origin is read meanwhile.
//
// When the writes are when: the bytes held go out at once when the origin has nothing more
// waiting (its chunk was shorter than a full read), when the write before is done and the origin
// had nothing more waiting, and when they reach `max`. While the origin has more waiting (full
// chunks, one after the other), they are gathered into one write, for at most GATHER_MS: a
// backlog moves in fewer, larger writes (each write costs the runtime the same, whatever its
// size), and a line waits at most GATHER_MS longer for it. At most `max` bytes (and one chunk's
// lines) are held: past that, reading waits for the write in flight.
//
// The pump steps in only when it must: it pauses the run when lines wait for the budget
// (`pause`, from inside `decide`), and halts it when the stream must end (`halt`, then the reader
// is cancelled; what it held is then not sent).
//
// A run resolves, once its last write is done, with a number:
//   0  paused (or it was asked to write only),
//   1  the origin ended its response,
//   2  the origin's connection broke,
//   3  the client is gone: a write failed (that write's lines did not reach it).

const PAUSED = 0;
const ENDED = 1;
const CUT = 2;
const GONE = 3;

// A read of the origin this long or longer is taken to mean that more was waiting behind it.
const FULL_READ = 4096;
const GATHER_MS = 2;

export class Relay {
  constructor(reader, writer, decide, take, max) {
    this.reader = reader;
    this.writer = writer;
    this.decide = decide;
    this.take = take;
    this.max = max;
    this.paused = false;
    this.halted = false;
    // How the origin's side ended (ENDED or CUT), once it did.
    this.end = 0;
    // Bytes the pump holds for the client, the write in flight, and whether one failed.
    this.held = 0;
    this.writing = null;
    this.failed = false;
    // Whether the origin had more waiting at its last chunk, and the gathering timer.
    this.backlog = false;
    this.timer = null;
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

  /** Writes what the pump holds, if no write is in flight. */
  flush() {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.writing !== null || this.held === 0 || this.failed) return;
    const bytes = this.take();
    this.held = 0;
    if (bytes === undefined || bytes.byteLength === 0) return;
    this.writes += 1;
    this.writing = this.writer.write(bytes).then(
      () => {
        this.writing = null;
        if (this.held > 0 && !this.halted) this.soon();
      },
      () => {
        this.writing = null;
        this.failed = true;
      },
    );
  }

  /** Writes what is held now, or within GATHER_MS while the origin has more waiting. */
  soon() {
    if (!this.backlog || this.held >= this.max) {
      this.flush();
    } else if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, GATHER_MS);
    }
  }

  /** Every write done (or failed). */
  async drained() {
    while (this.writing !== null) await this.writing;
  }

  async read() {
    this.since = Date.now();
    try {
      const r = await this.reader.read();
      if (r.done) return ENDED;
      this.reads += 1;
      return r.value;
    } catch {
      return CUT;
    } finally {
      this.since = 0;
    }
  }

  /** Writes what the pump holds and, if `read`, moves the stream until it pauses, halts or ends. */
  async run(held, read) {
    this.held = held;
    this.backlog = false;
    this.flush();
    if (read) {
      this.paused = false;
      while (!this.paused && !this.halted && !this.end && !this.failed) {
        // Past `max` held, the origin waits for the client.
        if (this.held >= this.max) {
          await this.drained();
          this.flush();
          continue;
        }
        const got = await this.read();
        if (typeof got === 'number') {
          this.end = got;
          break;
        }
        if (this.halted || this.failed) break;
        const held = this.decide(got);
        // The pump could not decide (it never fails so): nothing more passes undecided.
        if (held === undefined) {
          this.end = CUT;
          break;
        }
        this.held = held;
        this.backlog = got.byteLength >= FULL_READ;
        if (held > 0 && this.writing === null) this.soon();
      }
    }
    if (!this.halted) {
      await this.drained();
      this.flush();
    }
    await this.drained();
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.failed) return GONE;
    return read ? this.end : PAUSED;
  }
}
