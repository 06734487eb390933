/**
 * A bounded tail of streamed output: keeps the last `maxBytes` bytes so that
 * heartbeats and activity results stay far below Temporal's payload limits
 * however much a remote command prints.
 *
 * @module
 */
export class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Total bytes ever pushed (including the ones dropped). */
  total = 0;

  constructor(readonly maxBytes = 16 * 1024) {}

  /** Appends a chunk, dropping the oldest bytes beyond `maxBytes`. */
  push(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.total += buf.length;
    this.chunks.push(buf);
    this.size += buf.length;
    while (this.size > this.maxBytes && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.size - this.maxBytes;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  /** The kept bytes as UTF-8, prefixed with a marker when older output was dropped. */
  toString(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.total > this.size ? `[…${this.total - this.size} earlier bytes dropped]\n${text}` : text;
  }
}
