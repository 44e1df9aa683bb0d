import { describe, expect, it } from 'vitest';
import { RecordingBuilder, samplePostgresRecording } from './test-helpers.js';
import { renderTranscript } from './transcript.js';

describe('renderTranscript', () => {
  const r = samplePostgresRecording();
  const text = renderTranscript(r.events);

  it('shows each statement after a psql prompt with its time offset', () => {
    expect(text).toContain('[+0.010s] app=> SELECT id, name, avatar FROM users ORDER BY id;\n');
    expect(text).toContain('[+1.520s] app=> UPDATE users SET name = $2 WHERE id = $1\n');
    expect(text).toContain('[+1.560s] app=> SELECT * FROM nope;\n');
  });

  it('draws results as a psql table: centred headers, right-aligned numbers, NULL empty, bytea as hex', () => {
    expect(text).toContain(
      [' id | name  | avatar', '----+-------+--------', '  1 | alice | \\xdead', ' 42 |       |', '(2 rows)', ''].join(
        '\n',
      ),
    );
  });

  it('lists execute parameters as SQL literals', () => {
    expect(text).toContain("-- $1 = '42'\n-- $2 = 'o''brien'\n");
  });

  it('shows the command tag of a statement without rows', () => {
    expect(text).toMatch(/UPDATE users[^\n]*\n(-- [^\n]*\n)*UPDATE 1\n/);
  });

  it('names the rule that blocked a statement, and the error code the client saw', () => {
    expect(text).toContain(
      '[+1.540s] app=> DROP TABLE users;\n-- BLOCKED by rule "no-ddl": DDL is not allowed on production\n',
    );
    expect(text).toContain('ERROR:  42501: DDL is not allowed on production\n');
    expect(text).toContain('ERROR:  42P01: relation "nope" does not exist\nHINT:  Check the spelling.\n');
  });

  it('shows notices and the session start and end', () => {
    expect(text).toContain('NOTICE:  table "t" does not exist, skipping\n');
    expect(text).toContain(`-- session ${r.sessionId} started 2025-03-01T09:00:00.010Z (postgres)\n`);
    expect(text).toContain('-- identity: alice (user); connection: app; agent: dc1\n');
    expect(text).toContain('-- client: 10.0.0.7, user app_ro, TLS\n');
    expect(text).toContain('-- session ended 2025-03-01T09:00:01.600Z [+1.590s]: closed (client terminated)\n');
    expect(text).toContain('-- 4 statements, 1 blocked, 300 B in, 900 B out\n');
  });

  it('continues multi-line statements with the psql continuation prompt', () => {
    const b = new RecordingBuilder();
    b.add('query', { text: 'SELECT 1\n  FROM t;', decision: { action: 'allow' } });
    expect(renderTranscript(b.events, { prompt: 'db' })).toBe('[+0.000s] db=> SELECT 1\n          db->   FROM t;\n');
  });

  it('marks truncated results with how many rows were recorded and the exact count', () => {
    const b = new RecordingBuilder();
    const ref = b.add('query', { text: 'SELECT n FROM big', decision: { action: 'allow' } });
    const rows = Array.from({ length: 100 }, (_, i) => [String(i)]);
    b.add('result', {
      ref,
      tag: 'SELECT 5000',
      columns: [{ name: 'n', typeOid: 20 }],
      rows,
      rowCount: 5000,
      bytes: 90_000,
      truncated: true,
      ms: 12,
    });
    const out = renderTranscript(b.events);
    expect(out).toContain('[truncated: showing 100 of 5000 rows]\n(5000 rows)\n');
    expect(out).toContain('\n 99\n');
  });

  it('names the statement a pipelined result answers, and shows review holds', () => {
    const b = new RecordingBuilder();
    const first = b.add('execute', {
      statement: 's1',
      portal: '',
      text: 'SELECT $1::int',
      params: [null],
      decision: { action: 'allow' },
    });
    b.add('execute', {
      statement: 's2',
      portal: '',
      text: 'DELETE FROM t',
      params: [],
      decision: { action: 'review', rule: 'deletes' },
    });
    b.add('result', { ref: first, tag: 'SELECT 1', columns: [], rows: [[]], rowCount: 1, bytes: 5, ms: 1 });
    const out = renderTranscript(b.events);
    expect(out).toContain('-- $1 = NULL\n');
    expect(out).toContain('-- HELD FOR REVIEW by rule "deletes"\n');
    expect(out).toContain('-- answer to #1: SELECT $1::int\n');
  });

  it('shows COPY data, notifications and unknown kinds', () => {
    const b = new RecordingBuilder();
    const ref = b.add('query', { text: 'COPY t TO STDOUT', decision: { action: 'allow' } });
    b.add('result', {
      ref,
      tag: 'COPY 2',
      copy: { direction: 'out', data: ['1\ta\n', '2\tb\n'] },
      rowCount: 2,
      bytes: 8,
      ms: 1,
    });
    b.add('notification', { channel: 'jobs', payload: 'done', processId: 4242 });
    b.add('ssh.data', { stream: 'stdout', text: 'hi' });
    const out = renderTranscript(b.events, { timing: false });
    expect(out).toContain('1\ta\n2\tb\nCOPY 2\n');
    expect(out).toContain(
      'Asynchronous notification "jobs" with payload "done" received from server process with PID 4242.\n',
    );
    expect(out).toContain('[ssh.data] {"stream":"stdout","text":"hi"}\n');
    expect(out).not.toContain('Time:');
  });

  it('shows SSH port forwards by destination and byte counts', () => {
    const b = new RecordingBuilder();
    b.add('ssh.forward', { channel: 0, host: '127.0.0.1', port: 5432, bytesIn: 120, bytesOut: 480 });
    b.add('ssh.forward', { channel: 1, host: 'db', port: 5433, bytesIn: 0, bytesOut: 0, error: 'refused' });
    const out = renderTranscript(b.events, { timing: false });
    expect(out).toContain('-- channel 0: port forward to 127.0.0.1:5432 120 bytes in, 480 bytes out\n');
    expect(out).toContain('-- channel 1: port forward to db:5433 failed: refused\n');
  });
});
