import { describe, expect, it } from 'vitest';
import { SftpRequestReader } from './sftp-requests.js';

function packet(type: number, ...fields: (string | number | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([type]), Buffer.from([0, 0, 0, 7])];
  for (const f of fields) {
    if (typeof f === 'number') {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(f);
      parts.push(b);
    } else {
      const s = Buffer.isBuffer(f) ? f : Buffer.from(f);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(s.length);
      parts.push(len, s);
    }
  }
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

describe('SftpRequestReader', () => {
  it('reports file operations across chunk boundaries and skips data packets unbuffered', () => {
    const stream = Buffer.concat([
      Buffer.from([0, 0, 0, 5, 1, 0, 0, 0, 3]), // INIT v3
      packet(3, '/etc/hosts', 1, 0), // OPEN read
      packet(6, Buffer.alloc(4), 0, 0, 0, 32768, Buffer.alloc(200_000)), // WRITE with a large payload
      packet(3, '/tmp/up.txt', 0x1a, 0), // OPEN write|creat|trunc
      packet(18, '/tmp/a', '/tmp/b'), // RENAME
      packet(13, '/tmp/b'), // REMOVE
      packet(11, '/var/log'), // OPENDIR
    ]);
    const reader = new SftpRequestReader();
    const ops = [];
    for (let at = 0; at < stream.length; at += 7) ops.push(...reader.push(stream.subarray(at, at + 7)));
    expect(ops).toEqual([
      { op: 'open', path: '/etc/hosts', write: false },
      { op: 'open', path: '/tmp/up.txt', write: true },
      { op: 'rename', path: '/tmp/a', to: '/tmp/b' },
      { op: 'remove', path: '/tmp/b' },
      { op: 'opendir', path: '/var/log' },
    ]);
  });
});
