import { describe, expect, it } from 'vitest';
import { ChunkQueue } from './chunk-queue.js';
import { FrontendParser } from './frontend-parser.js';
import { BackendSerializer, BackendSplitter, serializeFrontend } from './index.js';

describe('ChunkQueue', () => {
  it('detach() keeps the unread bytes when the chunks they came from are overwritten', () => {
    const q = new ChunkQueue();
    const first = Buffer.from('abcd');
    const second = Buffer.from('efgh');
    q.push(first);
    q.push(second);
    expect(q.take(3).toString()).toBe('abc');
    q.detach();
    first.fill('x');
    second.fill('y');
    expect(q.length).toBe(5);
    q.push(Buffer.from('ij'));
    expect(q.take(7).toString()).toBe('defghij');
    q.detach();
    expect(q.length).toBe(0);
  });

  it('a BackendSplitter that detached reads a frame split across reused buffers', () => {
    const frame = BackendSerializer.commandComplete('SELECT 1');
    const splitter = new BackendSplitter();
    const log = Buffer.alloc(frame.length);
    frame.copy(log, 0, 0, 4);
    splitter.push(log.subarray(0, 4));
    expect(splitter.read()).toBeNull();
    splitter.detach();
    // The log is reused for the rest of the frame, as the recording worker's op logs are.
    frame.copy(log, 0, 4);
    splitter.push(log.subarray(0, frame.length - 4));
    expect(splitter.read()).toEqual(frame);
  });

  it('take() of exactly the current chunk returns that chunk, not the next queued one', () => {
    const q = new ChunkQueue();
    q.push(Buffer.from('ab'));
    q.push(Buffer.from('cd'));
    q.push(Buffer.from('ef'));
    expect(q.take(2).toString()).toBe('ab');
    expect(q.take(2).toString()).toBe('cd');
    expect(q.take(2).toString()).toBe('ef');
    expect(q.length).toBe(0);
  });

  it('mixes whole-chunk, partial and straddling takes in order', () => {
    const q = new ChunkQueue();
    for (const part of ['abc', 'de', 'f', 'ghij']) q.push(Buffer.from(part));
    expect([q.take(3), q.take(1), q.take(2), q.take(1), q.take(3)].map(String)).toEqual(['abc', 'd', 'ef', 'g', 'hij']);
  });
});

describe('FrontendParser with several chunks queued before reading', () => {
  it('returns each message once, in order (a client pipelining before its startup is answered)', () => {
    const parser = new FrontendParser({ phase: 'normal' });
    for (let i = 1; i <= 4; i++) parser.push(serializeFrontend.query(`SELECT ${i}`));
    const texts: string[] = [];
    for (let m = parser.read(); m; m = parser.read()) if (m.kind === 'query') texts.push(m.text);
    expect(texts).toEqual(['SELECT 1', 'SELECT 2', 'SELECT 3', 'SELECT 4']);
  });
});
