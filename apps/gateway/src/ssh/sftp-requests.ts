/** What an SFTP request names, for the recording (draft-ietf-secsh-filexfer-02, as OpenSSH speaks it). */
export interface SftpFileOp {
  op: 'open' | 'opendir' | 'remove' | 'rename' | 'mkdir' | 'rmdir' | 'setstat' | 'symlink';
  path: string;
  /** rename and symlink: the second path. */
  to?: string;
  /** open: whether the file is opened for writing. */
  write?: boolean;
}

const OPS: Record<number, SftpFileOp['op']> = {
  3: 'open',
  9: 'setstat',
  11: 'opendir',
  13: 'remove',
  14: 'mkdir',
  15: 'rmdir',
  18: 'rename',
  20: 'symlink',
};
/** Requests that name files are small; anything larger (WRITE data) is skipped unread. */
const MAX_BUFFERED = 64 * 1024;
const SSH_FXF_WRITE = 0x02;

/**
 * Reads the client → server half of an SFTP channel as it streams by and reports the
 * file operations it asks for. Packets it does not care about (reads, writes, stats)
 * are skipped without being buffered; the relay itself never waits for this.
 */
export class SftpRequestReader {
  private pending: Buffer = Buffer.alloc(0);
  private skip = 0;

  push(chunk: Buffer): SftpFileOp[] {
    const ops: SftpFileOp[] = [];
    let data: Buffer = chunk;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length);
        this.skip -= n;
        data = data.subarray(n);
      }
      if (!data.length) return ops;
      this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
      if (this.pending.length < 5) return ops;
      const length = this.pending.readUInt32BE(0);
      const type = this.pending[4]!;
      const op = OPS[type];
      if (!op || length > MAX_BUFFERED) {
        // Not a file-naming request: skip the rest of it.
        const total = 4 + length;
        const have = Math.min(total, this.pending.length);
        data = this.pending.subarray(have);
        this.skip = total - have;
        this.pending = Buffer.alloc(0);
        continue;
      }
      if (this.pending.length < 4 + length) return ops;
      const packet = this.pending.subarray(5, 4 + length);
      data = this.pending.subarray(4 + length);
      this.pending = Buffer.alloc(0);
      const parsed = parse(op, packet);
      if (parsed) ops.push(parsed);
    }
  }
}

function parse(op: SftpFileOp['op'], body: Buffer): SftpFileOp | undefined {
  let at = 4; // request id
  const str = (): string | undefined => {
    if (at + 4 > body.length) return undefined;
    const len = body.readUInt32BE(at);
    if (at + 4 + len > body.length) return undefined;
    const value = body.toString('utf8', at + 4, at + 4 + len);
    at += 4 + len;
    return value;
  };
  const path = str();
  if (path === undefined) return undefined;
  if (op === 'rename' || op === 'symlink') {
    const to = str();
    return to === undefined ? { op, path } : { op, path, to };
  }
  if (op === 'open' && at + 4 <= body.length) {
    return { op, path, write: (body.readUInt32BE(at) & SSH_FXF_WRITE) !== 0 };
  }
  return { op, path };
}
