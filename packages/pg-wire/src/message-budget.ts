/**
 * Messages whose length field is above this count against a {@link MessageBudget}: bodies over
 * 64 KiB (the length field counts its own 4 bytes). Smaller ones arrive in one or two socket
 * reads and are never held long; the largest password message (64 KiB) stays below it.
 */
export const BUDGETED_MESSAGE_FROM = 64 * 1024 + 4;

/**
 * A limit on the bytes of large client messages that many parsers (every client connection of
 * one process) hold at once: a parser reserves a message's whole claimed size when its header
 * arrives, before buffering any of it, and the message is refused (SQLSTATE 54000) when the
 * reservation would take the total past the limit. The reservation lasts until whoever read the
 * message releases it (see FrontendParser.handOff), so it covers the message until it has left
 * the process, not only while it arrives.
 *
 * Plain numbers only: reserving and releasing are a comparison and two additions.
 */
export class MessageBudget {
  private inUse = 0;
  private peak = 0;
  /** Messages refused because they did not fit (monotonic). */
  refused = 0;

  /** `limit`: bytes; 0 refuses every budgeted message. */
  constructor(readonly limit: number) {
    if (!(limit >= 0)) throw new RangeError('MessageBudget: limit must be >= 0');
  }

  /** Bytes reserved now. */
  get used(): number {
    return this.inUse;
  }

  /** The most bytes ever reserved at once. */
  get highWater(): number {
    return this.peak;
  }

  /** Reserves `bytes`; false (and nothing reserved) when they would take the total past the limit. */
  tryReserve(bytes: number): boolean {
    if (this.inUse + bytes > this.limit) {
      this.refused += 1;
      return false;
    }
    this.inUse += bytes;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return true;
  }

  release(bytes: number): void {
    this.inUse = Math.max(0, this.inUse - bytes);
  }
}
