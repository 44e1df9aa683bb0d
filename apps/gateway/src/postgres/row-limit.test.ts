import { compilePolicy } from '@warden/policy';
import { BackendSerializer as S, serializeFrontend as F } from '@warden/pg-wire';
import { describe, expect, it } from 'vitest';
import { RowLimitEnforcer, type LimitedStatement, type RowLimitHost } from './row-limit.js';
import { StatementGuard } from './statement-guard.js';

// The enforcer alone, with a stand-in session: which server frames it attributes to the limited
// statement, what it sends to the target and what reaches the client. End to end: test/postgres/row-limit.test.ts.
const rowLimit = { rule: 'max-2', limit: 2, message: 'at most 2 rows' };

function harness(counting = true) {
  const sent: Buffer[] = [];
  const refused: string[] = [];
  const lost: string[] = [];
  const host: RowLimitHost = {
    send: (frames) => {
      sent.push(...frames);
      enforcer.noteSent(frames);
    },
    refusal: (kind, message) => Buffer.from(`${kind === 'query' ? 'Q' : 'P'}refusal:${message}`),
    refused: (_, message) => refused.push(message),
    filter: (frame) => frame,
    lost: (reason) => lost.push(reason),
  };
  const enforcer = new RowLimitEnforcer(counting, host);
  /** What the client gets for these server frames (ReadyForQuery counted as the guard does). */
  const server = (...frames: Buffer[]): Buffer[] => {
    const out: Buffer[] = [];
    for (const frame of frames) {
      if (enforcer.watching) enforcer.onFrame(frame, out);
      else {
        if (frame[0] === 0x5a) enforcer.readyForQuery();
        out.push(frame);
      }
    }
    return out;
  };
  return { enforcer, sent, refused, lost, server };
}

const types = (frames: Buffer[]) => frames.map((f) => String.fromCharCode(f[0]!)).join('');
const query = (text: string): LimitedStatement => ({ kind: 'query', frame: F.query(text), text, rowLimit });
const execute = (rows = 0): LimitedStatement => ({
  kind: 'execute',
  frame: F.execute({ portal: '', rows }),
  text: 'UPDATE t SET x = 1',
  rowLimit,
});

describe('RowLimitEnforcer', () => {
  it('sends a simple Query as Parse/Bind/Describe/Execute/Flush and its Sync only once the count is known', async () => {
    const { enforcer, sent, server } = harness();
    let settled = false;
    void enforcer.start(query('UPDATE t SET x = 1 RETURNING id')).then(() => (settled = true));
    expect(types(sent)).toBe('PBDEH');
    const out = server(S.parseComplete(), S.bindComplete(), S.rowDescription([{ name: 'id', dataTypeOID: 23 }]));
    expect(out).toEqual([]);
    const kept = server(S.dataRow([Buffer.from('1')]), S.commandComplete('UPDATE 1'));
    expect(types(kept)).toBe('TDC');
    expect(types(sent)).toBe('PBDEHS');
    await Promise.resolve();
    expect(settled).toBe(true);
    expect(types(server(S.readyForQuery('I')))).toBe('Z');
  });

  it('refuses above the limit: rows are never released, the refusal and a Sync replace them', () => {
    const { enforcer, sent, refused, server } = harness();
    void enforcer.start(query('UPDATE t SET x = 1 RETURNING id'));
    const rows = [1, 2, 3, 4].map((i) => S.dataRow([Buffer.from(String(i))]));
    const out = server(
      S.parseComplete(),
      S.bindComplete(),
      S.rowDescription([{ name: 'id', dataTypeOID: 23 }]),
      ...rows,
    );
    expect(out).toEqual([]);
    expect(server(S.commandComplete('UPDATE 4'))).toEqual([]);
    expect(refused).toEqual([
      'max_rows_affected rule "max-2": 4 rows would be affected, the limit is 2; nothing was changed',
    ]);
    expect(sent.slice(-2).map((f) => f.toString().slice(0, 9))).toEqual(['Prefusal:', 'S\0\0\0\x04']);
  });

  it('lets the answers still owed to earlier messages through before its own', () => {
    const { enforcer, server, refused } = harness();
    enforcer.noteSent([F.query('UPDATE t SET x = 0 WHERE id = 1'), F.sync()]);
    void enforcer.start(execute());
    // An earlier Query's count of 5 is not the limited statement's.
    const earlier = server(S.commandComplete('UPDATE 5'), S.readyForQuery('I'), S.readyForQuery('I'));
    expect(types(earlier)).toBe('CZZ');
    expect(enforcer.watching).toBe(true);
    expect(types(server(S.commandComplete('UPDATE 1')))).toBe('C');
    expect(refused).toEqual([]);
    expect(enforcer.watching).toBe(false);
  });

  it('skips the results of Executes earlier in the same pipeline, and stops at their error', () => {
    const { enforcer, server, sent } = harness();
    enforcer.noteSent([
      F.parse({ text: 'INSERT' }),
      F.bind({}),
      F.execute({}),
      F.parse({ text: 'UPDATE' }),
      F.bind({}),
    ]);
    void enforcer.start(execute());
    expect(types(server(S.parseComplete(), S.bindComplete(), S.commandComplete('INSERT 0 1')))).toBe('12C');
    expect(enforcer.watching).toBe(true);
    const failed = server(S.errorResponse({ severity: 'ERROR', code: '23505', message: 'duplicate' }));
    expect(types(failed)).toBe('E');
    expect(enforcer.watching).toBe(false);
    expect(types(sent)).toBe('EH'); // nothing added: the client's own Sync ends the pipeline
  });

  it('does not count the Sync libpq sends into COPY FROM STDIN mode, which the server ignores', () => {
    const { enforcer, server } = harness();
    enforcer.noteSent([F.parse({ text: 'COPY t FROM STDIN' }), F.bind({}), F.execute({}), F.sync()]);
    enforcer.noteSent([F.copyData(Buffer.from('1\n')), F.copyDone(), F.sync()]);
    void enforcer.start(execute());
    // One ReadyForQuery is owed (the second Sync's): after it, the next count is the statement's.
    expect(types(server(S.commandComplete('COPY 1'), S.readyForQuery('I')))).toBe('CZ');
    expect(types(server(S.commandComplete('UPDATE 9')))).toEqual('');
    expect(enforcer.watching).toBe(false);
  });

  it('ends the session when a ReadyForQuery arrives that nothing it counted asked for', () => {
    const { enforcer, server, lost } = harness();
    void enforcer.start(execute());
    server(S.readyForQuery('I'));
    expect(lost).toHaveLength(1);
    expect(enforcer.watching).toBe(false);
  });

  it('refuses what it cannot measure: an Execute with a row count, a tag without a count', () => {
    const a = harness();
    void a.enforcer.start(execute(10));
    expect(a.refused[0]).toContain('without a row count');
    expect(a.enforcer.watching).toBe(false);
    const b = harness();
    void b.enforcer.start(execute());
    b.server(S.commandComplete('SELECT 1'));
    expect(b.refused[0]).toContain('could not be read');
  });

  it('refuses limited statements when counting began mid-session', () => {
    const { enforcer, refused, sent } = harness(false);
    enforcer.startCounting();
    void enforcer.start(query('UPDATE t SET x = 1'));
    expect(refused[0]).toContain('policies changed');
    expect(types(sent)).toBe('Q');
  });
});

describe('StatementGuard with row limits', () => {
  const limited = compilePolicy({ guardrails: [{ type: 'max_rows_affected', name: 'max-2', limit: 2 }] }, 'rl', {
    reviews: 'hold',
  });
  const plain = compilePolicy({ guardrails: [{ type: 'deny_kinds', name: 'no-drop', kinds: ['drop*'] }] }, 'p', {
    reviews: 'hold',
  });

  it('relays a chunk ending in ReadyForQuery as one piece while counting it', () => {
    const reply = Buffer.concat([S.commandComplete('SELECT 1'), S.readyForQuery('I')]);
    const counting = new StatementGuard(limited);
    expect(counting.rowLimits.countsReadyForQuery).toBe(true);
    const pieces = counting.response(Buffer.concat([Buffer.from('pad'), reply]).subarray(3));
    expect(pieces).toHaveLength(1);
    expect(pieces[0]!.equals(reply)).toBe(true);
    const notCounting = new StatementGuard(plain);
    expect(notCounting.rowLimits.countsReadyForQuery).toBe(false);
    expect(notCounting.response(reply)).toHaveLength(1);
  });
});
