/** The bytes of a run of one session's stored events, in seq order, and what a chunk row indexes. */
export interface EventRunBytes {
  /** `[event,event,…]` as UTF-8 JSON, in a buffer of its own (not Node's pool): it can be transferred. */
  bytes: Buffer;
  firstSeq: number;
  lastSeq: number;
  firstAt: string;
  lastAt: string;
}

const MIN_CAPACITY = 4 * 1024;
const MAX_CAPACITY = 1024 * 1024;
const OPEN = 0x5b; // [
const SEPARATOR = 0x2c; // ,
const CLOSE = 0x5d; // ]

/**
 * One session's stored events as the JSON array a RecordingChunk row holds, written as the
 * events are chained (HashChain.appendTo): each event's bytes are written once, hashed where they
 * lie and handed over as they are. Building each event as a string, hashing the string and
 * joining the strings for the chunk copied and encoded every event three times more (measured:
 * ~0.8 µs per event of the recording worker's ~3).
 */
export class EventRun {
  /** @internal */ buf: Buffer | null = null;
  /** @internal Where the next event's bytes go. */ pos = 0;
  private nextCapacity = MIN_CAPACITY;
  private firstSeq = 0;
  private lastSeq = 0;
  private firstAt = '';
  private lastAt = '';

  /** Events written since the last take(). */
  get size(): number {
    return this.lastSeq === 0 ? 0 : this.lastSeq - this.firstSeq + 1;
  }

  /**
   * @internal Makes room for an event of at most `bound` bytes and returns where it starts
   * (after the array's `[` or the previous event's `,`).
   */
  reserve(bound: number): number {
    const buf = this.buf;
    if (buf === null) {
      const fresh = (this.buf = Buffer.allocUnsafeSlow(Math.max(this.nextCapacity, bound + 2)));
      fresh[0] = OPEN;
      this.pos = 1;
      return 1;
    }
    if (this.lastSeq !== 0) buf[this.pos++] = SEPARATOR;
    // The closing `]` must fit after the event too.
    if (this.pos + bound + 1 > buf.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, this.pos + bound + 1));
      buf.copy(grown, 0, 0, this.pos);
      this.buf = grown;
    }
    return this.pos;
  }

  /** @internal The event just written ends at `end`. */
  written(end: number, seq: number, t: string): void {
    this.pos = end;
    if (this.lastSeq === 0) {
      this.firstSeq = seq;
      this.firstAt = t;
    }
    this.lastSeq = seq;
    this.lastAt = t;
  }

  /** The events written since the last take() (undefined when there are none); the run starts over. */
  take(): EventRunBytes | undefined {
    const buf = this.buf;
    if (buf === null || this.lastSeq === 0) return undefined;
    buf[this.pos++] = CLOSE;
    const length = this.pos;
    // A buffer mostly empty is copied out at its size rather than handed over: a quiet session's
    // few events would otherwise hold (and send between threads) a whole buffer each time.
    let bytes: Buffer;
    if (length * 4 < buf.length) {
      bytes = Buffer.allocUnsafeSlow(length);
      buf.copy(bytes, 0, 0, length);
      this.pos = 1;
    } else {
      bytes = buf.subarray(0, length);
      this.buf = null;
    }
    const out = { bytes, firstSeq: this.firstSeq, lastSeq: this.lastSeq, firstAt: this.firstAt, lastAt: this.lastAt };
    this.nextCapacity = Math.min(MAX_CAPACITY, Math.max(MIN_CAPACITY, length + (length >> 2)));
    this.firstSeq = this.lastSeq = 0;
    return out;
  }
}
