// Micro-benchmark: messages/s of FrontendParser and BackendSplitter on a pgbench-like mix,
// next to node-postgres' own pg-protocol Parser on the same backend bytes, in the same run.
//
//   node --import tsx packages/pg-wire/bench/parse.ts [seconds-per-case, default 2]
//
// Two chunkings: "round trip" (each statement's messages arrive as one chunk, as with pgbench
// waiting for each reply) and "64 KiB" (a long pipelined stream cut at socket-buffer size, so
// messages straddle chunks).
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import {
  BackendCode,
  BackendSerializer as S,
  BackendSplitter,
  FrontendParser,
  frameTypes,
  decodeCommandComplete,
  decodeDataRow,
  decodeReadyForQuery,
  decodeRowDescription,
} from '../src/index.js';

const seconds = Number(process.argv[2] ?? 2);

const tpcb = [
  'BEGIN;',
  'UPDATE pgbench_accounts SET abalance = abalance + -4001 WHERE aid = 77123;',
  'SELECT abalance FROM pgbench_accounts WHERE aid = 77123;',
  'UPDATE pgbench_tellers SET tbalance = tbalance + -4001 WHERE tid = 7;',
  'UPDATE pgbench_branches SET bbalance = bbalance + -4001 WHERE bid = 1;',
  'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (7, 1, 77123, -4001, CURRENT_TIMESTAMP);',
  'END;',
];

function tag(sql: string): string {
  if (sql.startsWith('BEGIN')) return 'BEGIN';
  if (sql.startsWith('END')) return 'COMMIT';
  if (sql.startsWith('UPDATE')) return 'UPDATE 1';
  if (sql.startsWith('SELECT')) return 'SELECT 1';
  return 'INSERT 0 1';
}

const rowDesc = S.rowDescription([{ name: 'abalance', tableOID: 16397, columnAttr: 3, dataTypeOID: 23, typeSize: 4 }]);

/** One pgbench transaction per protocol mode: [frontend round trips, backend replies]. */
function transaction(): { front: Buffer[]; back: Buffer[] } {
  const front: Buffer[] = [];
  const back: Buffer[] = [];
  const reply = (sql: string, extended: boolean, parse: boolean) => {
    const parts: Buffer[] = [];
    if (parse) parts.push(S.parseComplete());
    if (extended) parts.push(S.bindComplete());
    if (sql.startsWith('SELECT')) parts.push(rowDesc, S.dataRow([Buffer.from('-12345')]));
    else if (extended) parts.push(S.noData());
    parts.push(S.commandComplete(tag(sql)), S.readyForQuery(sql.startsWith('END') ? 'I' : 'T'));
    back.push(Buffer.concat(parts));
  };
  // -M simple
  for (const sql of tpcb) {
    front.push(serialize.query(sql));
    reply(sql, false, false);
  }
  // -M extended: Parse/Bind/Describe/Execute/Sync
  for (const sql of tpcb) {
    const text = sql.replace(/-4001/g, '$1').replace(/77123/g, '$2');
    const params = text.includes('$2') ? ['-4001', '77123'] : text.includes('$1') ? ['-4001'] : [];
    front.push(
      Buffer.concat([
        serialize.parse({ text }),
        serialize.bind({ values: params }),
        serialize.describe({ type: 'P' }),
        serialize.execute(),
        serialize.sync(),
      ]),
    );
    reply(sql, true, true);
  }
  // -M prepared: Bind/Describe/Execute/Sync on named statements
  tpcb.forEach((sql, i) => {
    front.push(
      Buffer.concat([
        serialize.bind({ statement: `P0_${i}`, values: ['-4001', '77123'] }),
        serialize.describe({ type: 'P' }),
        serialize.execute(),
        serialize.sync(),
      ]),
    );
    reply(sql, true, false);
  });
  return { front, back };
}

function countFrames(buf: Buffer): number {
  return new BackendSplitter().split(buf).length;
}

const tx = transaction();
const REPEAT = 200;
const roundTripFront = Array.from({ length: REPEAT }, () => tx.front).flat();
const roundTripBack = Array.from({ length: REPEAT }, () => tx.back).flat();
const streamFront = Buffer.concat(roundTripFront);
const streamBack = Buffer.concat(roundTripBack);
function cut(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}
const frontMessages = new FrontendParser({ phase: 'normal' }).parse(streamFront).length;
const backMessages = countFrames(streamBack);

let sink = 0;

/** Best of 5 timed rounds (the machine may be shared): messages/s. */
function bench(name: string, messages: number, bytes: number, run: () => void): number {
  for (let i = 0; i < 50; i++) run(); // warm up
  let best = 0;
  const budget = BigInt(Math.round((seconds / 5) * 1e9));
  for (let round = 0; round < 5; round++) {
    let iterations = 0;
    const start = process.hrtime.bigint();
    let elapsed: bigint;
    do {
      for (let i = 0; i < 10; i++) run();
      iterations += 10;
      elapsed = process.hrtime.bigint() - start;
    } while (elapsed < budget);
    best = Math.max(best, iterations / (Number(elapsed) / 1e9));
  }
  const rate = messages * best;
  console.log(
    `${name.padEnd(60)} ${(rate / 1e6).toFixed(2).padStart(6)} M msg/s  ${((bytes * best) / 2 ** 20).toFixed(0).padStart(5)} MiB/s`,
  );
  return rate;
}

function frontend(chunks: Buffer[]): () => void {
  return () => {
    const p = new FrontendParser({ phase: 'normal' });
    for (const c of chunks) {
      p.push(c);
      for (let m = p.read(); m !== null; m = p.read()) sink += m.frame.length;
    }
  };
}

function splitter(chunks: Buffer[], decode: boolean): () => void {
  return () => {
    const s = new BackendSplitter();
    for (const c of chunks) {
      s.push(c);
      for (let f = s.read(); f !== null; f = s.read()) {
        if (!decode) {
          sink += f.length;
          continue;
        }
        switch (f[0]) {
          case BackendCode.RowDescription:
            sink += decodeRowDescription(f).length;
            break;
          case BackendCode.DataRow:
            sink += decodeDataRow(f).length;
            break;
          case BackendCode.CommandComplete:
            sink += decodeCommandComplete(f).length;
            break;
          case BackendCode.ReadyForQuery:
            sink += decodeReadyForQuery(f).length;
            break;
          default:
            sink += 1;
        }
      }
    }
  };
}

const watch = frameTypes(['Z', 'E']);

/** Gateway-style relay: untouched runs forwarded whole, ReadyForQuery / ErrorResponse looked at. */
function relay(chunks: Buffer[]): () => void {
  return () => {
    const s = new BackendSplitter();
    for (const c of chunks) {
      s.push(c);
      for (;;) {
        const run = s.readRun(watch);
        if (run) {
          sink += run.length;
          continue;
        }
        const f = s.read();
        if (f === null) break;
        if (f[0] === BackendCode.ReadyForQuery) sink += decodeReadyForQuery(f).length;
        else sink += f.length;
      }
    }
  };
}

function pgProtocol(chunks: Buffer[]): () => void {
  return () => {
    const p = new Parser();
    for (const c of chunks) p.parse(c, (m) => (sink += m.length));
  };
}

console.log(
  `pgbench-like mix (simple + extended + prepared TPC-B): ${frontMessages / REPEAT} frontend and ` +
    `${backMessages / REPEAT} backend messages per transaction set; node ${process.version}\n`,
);
for (const [label, front, back] of [
  ['round trip', roundTripFront, roundTripBack],
  ['64 KiB', cut(streamFront, 65536), cut(streamBack, 65536)],
] as const) {
  bench(`FrontendParser (decode all)            [${label}]`, frontMessages, streamFront.length, frontend([...front]));
  bench(
    `BackendSplitter (frames only)          [${label}]`,
    backMessages,
    streamBack.length,
    splitter([...back], false),
  );
  bench(
    `BackendSplitter + decode T/D/C/Z       [${label}]`,
    backMessages,
    streamBack.length,
    splitter([...back], true),
  );
  bench(`BackendSplitter relay (readRun, watch Z/E) [${label}]`, backMessages, streamBack.length, relay([...back]));
  bench(`pg-protocol Parser (decodes all)       [${label}]`, backMessages, streamBack.length, pgProtocol([...back]));
}
if (sink === 42) console.log('');
