import { describe, expect, it } from 'vitest';
import { toAsciicast } from './asciicast.js';
import type { RecordedEvent } from './events.js';
import { renderTranscript } from './transcript.js';

let seq = 0;
function event(ms: number, kind: string, payload: Record<string, unknown>): RecordedEvent {
  seq += 1;
  return {
    sessionId: 's',
    seq,
    t: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, ms)).toISOString(),
    direction: 'gateway',
    kind,
    payload,
    prevHash: '',
    hash: '',
  };
}

const events = [
  event(0, 'session.start', {
    protocol: 'ssh',
    identity: { id: 'i', name: 'ana' },
    connection: { id: 'c', name: 'box' },
    agent: { id: 'a', name: 'edge' },
    clientAddr: null,
    clientTls: true,
    clientUser: 'box',
    signingKeyId: 'k',
  }),
  event(5, 'ssh.exec', { channel: 0, text: 'uptime', decision: { action: 'allow' } }),
  event(8, 'ssh.data', { channel: 0, stream: 'stdout', data: 'up 3 days\n' }),
  event(9, 'ssh.exit', { channel: 0, code: 0 }),
  event(1000, 'ssh.shell', { channel: 1, pty: { term: 'xterm-256color', cols: 120, rows: 40 } }),
  event(1250, 'ssh.data', { channel: 1, stream: 'stdout', data: '\u001b[1m$ \u001b[0m' }),
  event(1500, 'ssh.data', { channel: 1, stream: 'stdin', data: 'ls\r' }),
  event(2000, 'ssh.resize', { channel: 1, cols: 100, rows: 30 }),
  event(2500, 'ssh.data', { channel: 0, stream: 'stdout', data: 'other channel' }),
  event(3000, 'ssh.exit', { channel: 1, code: 0 }),
];

describe('toAsciicast', () => {
  it('writes the first shell as asciicast v2: header, output and resize events timed from its start', () => {
    const cast = toAsciicast(events)!;
    const [header, ...lines] = cast
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(header).toEqual({
      version: 2,
      width: 120,
      height: 40,
      timestamp: Math.floor(Date.UTC(2026, 0, 1, 0, 0, 1) / 1000),
      env: { TERM: 'xterm-256color', SHELL: '/bin/sh' },
      title: 'ana@box',
    });
    expect(lines).toEqual([
      [0.25, 'o', '\u001b[1m$ \u001b[0m'],
      [1, 'r', '100x30'],
    ]);
  });

  it('adds input events only when asked, and is null without a shell', () => {
    const lines = toAsciicast(events, { input: true })!.trim().split('\n');
    expect(lines).toContain(JSON.stringify([0.5, 'i', 'ls\r']));
    expect(toAsciicast(events.slice(0, 4))).toBeNull();
    expect(toAsciicast(events, { channel: 0 })).toBeNull();
  });
});

describe('SSH transcript', () => {
  it('shows commands, output without terminal escapes, and exits', () => {
    const text = renderTranscript(events);
    expect(text).toContain('box$ uptime\nup 3 days\n');
    expect(text).toContain('channel 1: interactive shell (xterm-256color, 120x40)');
    expect(text).toContain('$ \n'.slice(0, 2));
    expect(text).not.toContain('\u001b');
    expect(text).toContain('channel 1: exit status 0');
  });
});
