// Micro-benchmark: what recording costs per pgbench -S statement (simple and prepared mode), in
// its two parts. The event loop's: 8 sessions' relays append each statement's frames and reply
// to the op log (OffloadedRecording, a real worker behind it), each in a task of its own as
// socket reads come, timed around the appends. The recording worker's: op logs of the same
// traffic, turned into chained, encoded chunks by the RecordingPipeline in a loop on this thread.
// No sockets, no database (bench/pgbench.ts measures the whole path).
//
//   node --import tsx apps/gateway/bench/recording.ts   (PIPELINE_STATEMENTS=200000 PIPELINE_RUNS=7
//   PIPELINE_MODES=simple,prepared); node --cpu-prof --import tsx … profiles it
import { randomBytes, randomUUID } from 'node:crypto';
import { setImmediate as nextTask } from 'node:timers/promises';
import { BackendSerializer as S, serializeFrontend } from '@warden/pg-wire';
import { recordingSignerFrom } from '@warden/recording';
import { createLogger } from '@warden/runtime';
import { Op, OpLogWriter } from '../src/recording/offload/op-log.js';
import { RecordingOffload } from '../src/recording/offload/recording-offload.js';
import { RecordingWriter } from '../src/recording/recording-writer.js';
import { RecordingPipeline } from '../src/recording/offload/recording-pipeline.js';

const statements = Number(process.env.PIPELINE_STATEMENTS ?? 200_000);
/** Measured runs after a warm-up; the fastest is quoted: on a shared machine noise only ever adds. */
const runs = Number(process.env.PIPELINE_RUNS ?? 7);
const SESSIONS = 8;
/** Statements per op log: ~25 ms of traffic at 8k TPS, as the gateway hands them over. */
const PER_LOG = 200;
/** Logs between two take()s: the worker's 100 ms chunk interval. */
const LOGS_PER_TAKE = 4;
const TEXT = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;';

const rowDescription = S.rowDescription([
  { name: 'abalance', tableOID: 16397, columnAttr: 3, dataTypeOID: 23, typeSize: 4 },
]);
const reply = (mode: string): Buffer =>
  Buffer.concat([
    ...(mode === 'prepared' ? [S.bindComplete()] : []),
    rowDescription,
    S.dataRow([Buffer.from('0')]),
    S.commandComplete('SELECT 1'),
    S.readyForQuery('I'),
  ]);

/** One statement's client frames, as the relay logs them one frame at a time. */
function clientFrames(mode: string, aid: number): Buffer[] {
  if (mode === 'simple') return [serializeFrontend.query(TEXT.replace('$1', String(aid)))];
  // libpq also sends a Describe, which the relay does not log.
  return [
    serializeFrontend.bind({ statement: 'P0_1', values: [String(aid)] }),
    serializeFrontend.execute({}),
    serializeFrontend.sync(),
  ];
}

function logs(mode: string): Buffer[] {
  const writer = new OpLogWriter();
  const out: Buffer[] = [];
  const take = () => {
    const { log, length } = writer.take();
    out.push(Buffer.from(log, 0, length));
  };
  let time = Date.now();
  for (let handle = 1; handle <= SESSIONS; handle++) {
    writer.text(Op.open, handle, time, JSON.stringify({ sessionId: randomUUID(), maxRows: 1000, maxBytes: 1 << 20 }));
    if (mode === 'prepared') writer.client(handle, time, 0, '', serializeFrontend.parse({ name: 'P0_1', text: TEXT }));
  }
  take();
  const answer = reply(mode);
  for (let i = 0; i < statements; i++) {
    const handle = (i % SESSIONS) + 1;
    time += 0.1;
    for (const frame of clientFrames(mode, (i * 7919) % 1_000_000)) writer.client(handle, time, 0, '', frame);
    writer.bytes(Op.server, handle, time + 0.05, answer);
    if ((i + 1) % PER_LOG === 0) take();
  }
  take();
  return out;
}

function run(mode: string): void {
  const input = logs(mode);
  const measure = (): { us: number; events: number; bytes: number } => {
    const pipeline = new RecordingPipeline();
    let events = 0;
    let bytes = 0;
    const started = process.cpuUsage();
    input.forEach((log, i) => {
      pipeline.consume(log);
      if ((i + 1) % LOGS_PER_TAKE === 0 || i === input.length - 1) {
        for (const chunk of pipeline.take().chunks) {
          events += chunk.lastSeq - chunk.firstSeq + 1;
          bytes += chunk.events.length;
        }
      }
    });
    const used = process.cpuUsage(started);
    return { us: (used.user + used.system) / statements, events, bytes };
  };
  measure(); // warm-up: optimized code, grown heap
  const measured = Array.from({ length: runs }, measure);
  const best = measured.reduce((a, b) => (b.us < a.us ? b : a));
  const sorted = measured.map((r) => r.us).sort((a, b) => a - b);
  console.log(
    `${mode.padEnd(8)} worker ${best.us.toFixed(2)} µs CPU per statement (fastest of ${runs}; median ${sorted[sorted.length >> 1]!.toFixed(2)}); ` +
      `${(best.events / statements).toFixed(2)} events and ${Math.round(best.bytes / statements)} bytes of chunk JSON per statement`,
  );
}

/** The event loop's part: microseconds of appending per statement (fastest of `runs`). */
async function eventLoop(mode: string): Promise<void> {
  const logger = createLogger({ level: 'silent' } as never);
  const writer = new RecordingWriter(async () => {}, logger);
  const offload = new RecordingOffload(
    writer,
    recordingSignerFrom(() => randomBytes(32)),
    logger,
  );
  const options = { enabled: true, maxRows: 100, maxBytes: 64 * 1024 };
  const sessions = Array.from({ length: SESSIONS }, () => offload.open(randomUUID(), options));
  if (mode === 'prepared') {
    for (const s of sessions) s.client(serializeFrontend.parse({ name: 'P0_1', text: TEXT }));
  }
  const answer = reply(mode);
  const count = Math.min(statements, 50_000);
  const measure = async (): Promise<number> => {
    let spent = 0;
    for (let i = 0; i < count; i++) {
      const session = sessions[i % SESSIONS]!;
      const frames = clientFrames(mode, i);
      await nextTask();
      let began = performance.now();
      for (const frame of frames) session.client(frame);
      spent += performance.now() - began;
      await nextTask();
      began = performance.now();
      session.server(answer);
      spent += performance.now() - began;
    }
    return (spent * 1000) / count;
  };
  await measure();
  const measured: number[] = [];
  for (let r = 0; r < runs; r++) measured.push(await measure());
  measured.sort((a, b) => a - b);
  console.log(
    `${mode.padEnd(8)} event loop ${measured[0]!.toFixed(2)} µs per statement (fastest of ${runs}; median ${measured[runs >> 1]!.toFixed(2)})`,
  );
  await offload.close();
}

for (const mode of (process.env.PIPELINE_MODES ?? 'simple,prepared').split(',')) {
  await eventLoop(mode);
  run(mode);
}
