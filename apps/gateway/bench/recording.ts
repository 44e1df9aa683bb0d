// Micro-benchmark: the gateway's recording work per pgbench -S statement, in process, for
// simple and prepared mode: parsing the client's messages, recording them, splitting the
// server's reply and recording it, hashing the chain and batching the events as the writer
// does (its database insert replaced by a no-op). Next to it, in the same run, the same
// traffic with recording off (parsing the client's messages only, as the gateway does), so the
// difference is the recording's.
//
//   node --import tsx apps/gateway/bench/recording.ts [seconds-per-case, default 3] [on: recording on only,
//   e.g. under --cpu-prof, so that the profile shows the recording's own work]
//   RECBENCH_MODES=simple runs one mode; RECBENCH_STATEMENTS=N runs exactly N statements per case
//   instead of for a time, so that instruction counts (valgrind --tool=callgrind on a bundle of
//   this file) of an N and a 3N run differ by the work of 2N statements.
import { randomBytes } from 'node:crypto';
import { BackendSerializer as S, BackendSplitter, FrameView, FrontendParser, serializeFrontend } from '@warden/pg-wire';
import { recordingSignerFrom } from '@warden/recording';
import { createLogger } from '@warden/runtime';
import { PostgresSessionRecording } from '../src/postgres/session-recording.js';
import { RecordingWriter } from '../src/recording/recording-writer.js';
import { SessionRecorder } from '../src/recording/session-recorder.js';

const seconds = Number(process.argv[2] ?? 3);
/** Run exactly this many statements per case instead (for instruction counts under callgrind). */
const fixed = Number(process.env.RECBENCH_STATEMENTS ?? 0);
const onOnly = process.argv[3] === 'on';
const SESSIONS = 8;
const rowDesc = S.rowDescription([{ name: 'abalance', tableOID: 16397, columnAttr: 3, dataTypeOID: 23, typeSize: 4 }]);

function simpleRound(aid: number): { front: Buffer; back: Buffer } {
  return {
    front: serializeFrontend.query(`SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`),
    back: Buffer.concat([rowDesc, S.dataRow([Buffer.from('0')]), S.commandComplete('SELECT 1'), S.readyForQuery('I')]),
  };
}

// libpq's PQsendQueryPrepared: Bind, Describe portal, Execute, Sync.
function preparedRound(aid: number): { front: Buffer; back: Buffer } {
  return {
    front: Buffer.concat([
      serializeFrontend.bind({ statement: 'P0_1', values: [String(aid)] }),
      serializeFrontend.describe({ type: 'P', name: '' }),
      serializeFrontend.execute({}),
      serializeFrontend.sync(),
    ]),
    back: Buffer.concat([
      S.bindComplete(),
      rowDesc,
      S.dataRow([Buffer.from('0')]),
      S.commandComplete('SELECT 1'),
      S.readyForQuery('I'),
    ]),
  };
}

interface Lane {
  parser: FrontendParser;
  splitter: BackendSplitter;
  recording?: PostgresSessionRecording;
}

const signer = recordingSignerFrom(() => randomBytes(32));
const logger = createLogger({ level: 'silent', name: 'bench' });

function lanes(record: boolean, writer: RecordingWriter, mode: string): Lane[] {
  return Array.from({ length: SESSIONS }, (_, i) => {
    const lane: Lane = { parser: new FrontendParser({ phase: 'normal' }), splitter: new BackendSplitter() };
    if (record) {
      const recorder = new SessionRecorder(`00000000-0000-4000-8000-00000000000${i}`, writer, signer);
      lane.recording = new PostgresSessionRecording(recorder, { enabled: true, maxRows: 100, maxBytes: 64 * 1024 });
      if (mode === 'prepared') {
        lane.parser.push(
          serializeFrontend.parse({
            name: 'P0_1',
            text: 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;',
            types: [],
          }),
        );
        const parse = lane.parser.read();
        if (parse?.kind === 'parse') lane.recording.parse(parse);
      }
    }
    return lane;
  });
}

const view = new FrameView();

function step(lane: Lane, round: { front: Buffer; back: Buffer }): void {
  const { parser, splitter, recording } = lane;
  parser.push(round.front);
  for (let m = parser.read(); m; m = parser.read()) {
    if (!recording) continue;
    if (m.kind === 'query') recording.query(m.text);
    else if (m.kind === 'bind') recording.bind(m);
    else if (m.kind === 'execute') recording.execute(m);
    else if (m.kind === 'sync') recording.sync();
  }
  // As the gateway's ResponsePath: with nothing recorded the reply is not even split.
  if (!recording) return;
  splitter.push(round.back);
  while (splitter.next(view)) recording.serverFrameAt(view.buffer, view.start, view.end);
}

async function measure(mode: string, record: boolean): Promise<number> {
  let inserted = 0;
  const writer = new RecordingWriter(async (_sql, params) => {
    inserted += params.length;
  }, logger);
  const ls = lanes(record, writer, mode);
  const make = mode === 'simple' ? simpleRound : preparedRound;
  const rounds = Array.from({ length: 1000 }, (_, i) => make(1 + ((i * 7919) % 1_000_000)));
  let statements = 0;
  const end = performance.now() + seconds * 1000;
  // CPU time, all threads (V8's GC helpers included), not wall time: on a shared host the
  // wall clock also counts the time other tenants had the core.
  const started = process.cpuUsage();
  while (fixed ? statements < fixed : performance.now() < end) {
    // A batch of statements, then a turn of the event loop so the writer's timer can flush.
    for (let i = 0; i < 2000; i++) step(ls[i % SESSIONS]!, rounds[i % rounds.length]!);
    statements += 2000;
    await new Promise((resolve) => setImmediate(resolve));
  }
  await writer.flush();
  const used = process.cpuUsage(started);
  if (record && inserted === 0) throw new Error('nothing was written');
  return (used.user + used.system) / statements;
}

for (const mode of process.env.RECBENCH_MODES?.split(',') ?? ['simple', 'prepared']) {
  await measure(mode, true); // warm-up
  if (onOnly) {
    console.log(`${mode.padEnd(9)} recording on ${(await measure(mode, true)).toFixed(2)} µs CPU/statement`);
    continue;
  }
  const off = await measure(mode, false);
  const on = await measure(mode, true);
  console.log(
    `${mode.padEnd(9)} recording off ${off.toFixed(2)} µs CPU/statement, on ${on.toFixed(2)} µs CPU/statement: the recording costs ${(on - off).toFixed(2)} µs`,
  );
}
