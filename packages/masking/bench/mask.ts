// Masking throughput on a wide result: 20 text columns, mixed PII and plain values, streamed
// through ResultMasker in 64 KiB chunks (as a socket delivers them). Same run, same data:
//   pass-through (empty plan) · column rules only (detectors off) · detectors on (+ rules) ·
//   detectors on, clean data (no PII anywhere: the cost of scanning alone).
// Run: node --import tsx packages/masking/bench/mask.ts [rows] [label filter, e.g. clean]
import { BackendSerializer as S, type FieldDescriptionInput } from '@warden/pg-wire';
import { DEFAULT_DETECTOR_STRATEGIES, ResultMasker, type MaskingPlan } from '../src/index.js';

const ROWS = Number(process.argv[2] ?? 100_000);
const FILTER = process.argv[3] ?? '';
const CHUNK = 64 * 1024;
const TABLE = 16400;

const names = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Katherine Johnson', 'Edsger Dijkstra'];
const cities = ['London', 'Arlington', 'Manchester', 'White Sulphur Springs', 'Rotterdam'];

// 20 columns: what each holds for row i (PII in about half of them).
const columns: [name: string, pii: (i: number) => string, clean: (i: number) => string][] = [
  ['id', (i) => String(i), (i) => String(i)],
  ['name', (i) => names[i % 5]!, (i) => names[i % 5]!],
  ['email', (i) => `user${i}@example.com`, (i) => `user${i}`],
  ['phone', (i) => `+1 415 555 ${String(1000 + (i % 9000))}`, (i) => `ext ${i % 900}`],
  ['card', () => '4242 4242 4242 4242', () => 'on file'],
  ['ssn', (i) => `123-45-${String(1000 + (i % 9000))}`, () => 'n/a'],
  ['city', (i) => cities[i % 5]!, (i) => cities[i % 5]!],
  ['status', (i) => (i % 3 ? 'active' : 'suspended'), (i) => (i % 3 ? 'active' : 'suspended')],
  ['created', (i) => `2024-0${1 + (i % 9)}-15 10:30:45+00`, (i) => `2024-0${1 + (i % 9)}-15 10:30:45+00`],
  ['uuid', () => '550e8400-e29b-41d4-a716-446655440000', () => '550e8400-e29b-41d4-a716-446655440000'],
  ['ip', (i) => `10.0.${i % 256}.${(i * 7) % 256}`, () => 'internal'],
  ['plan', () => 'enterprise', () => 'enterprise'],
  ['amount', (i) => `${i % 1000}.99`, (i) => `${i % 1000}.99`],
  [
    'note',
    (i) => `Customer called about invoice ${i}; prefers email at backup${i}@example.org after 5pm.`,
    (i) => `Customer called about invoice ${i}; prefers a call back after 5pm on weekdays.`,
  ],
  ['country', () => 'GB', () => 'GB'],
  ['iban', () => 'GB82 WEST 1234 5698 7654 32', () => 'pending'],
  ['version', () => 'v2.14.3', () => 'v2.14.3'],
  ['token', () => 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', () => 'rotated'],
  ['tags', () => 'vip,newsletter,beta', () => 'vip,newsletter,beta'],
  ['comment', () => 'All good, nothing to report here.', () => 'All good, nothing to report here.'],
];

const fields: FieldDescriptionInput[] = columns.map(([name], i) => ({
  name,
  tableOID: TABLE,
  columnAttr: i + 1,
  dataTypeOID: 25,
}));

function result(pii: boolean): Buffer[] {
  const parts: Buffer[] = [S.rowDescription(fields)];
  for (let i = 0; i < ROWS; i++) {
    parts.push(S.dataRow(columns.map(([, withPii, clean]) => Buffer.from((pii ? withPii : clean)(i)))));
  }
  parts.push(S.commandComplete(`SELECT ${ROWS}`), S.readyForQuery('I'));
  const all = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  for (let p = 0; p < all.length; p += CHUNK) chunks.push(all.subarray(p, p + CHUNK));
  return chunks;
}

const rules: MaskingPlan['columns'] = {
  [`${TABLE}:6`]: { strategy: 'last4', name: 'ssn' },
  [`${TABLE}:3`]: { strategy: 'hash', name: 'email' },
};

function measure(label: string, plan: MaskingPlan, chunks: Buffer[]): void {
  if (!label.includes(FILTER)) return;
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  let bestWall = Infinity;
  let bestCpu = Infinity;
  let outBytes = 0;
  let masked = 0;
  for (let round = 0; round < 5; round++) {
    const m = new ResultMasker(plan, { hashKey: Buffer.alloc(32, 1) });
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    outBytes = 0;
    for (const c of chunks) for (const o of m.push(c)) outBytes += o.length;
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c1 = process.cpuUsage(c0);
    bestWall = Math.min(bestWall, wall);
    bestCpu = Math.min(bestCpu, (c1.user + c1.system) / 1e6 || wall);
    masked = Object.values(m.counts()).reduce((a, b) => a + b, 0);
  }
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);
  console.log(
    `${label.padEnd(36)} ${fmt(ROWS / bestCpu)} rows/s ${(bytes / bestCpu / 1e6).toFixed(0).padStart(6)} MB/s ` +
      `(wall ${fmt(ROWS / bestWall)} rows/s) ${(outBytes / 1e6).toFixed(1).padStart(6)} MB out ` +
      `${masked.toLocaleString('en-US').padStart(10)} masked`,
  );
}

const pii = result(true);
const clean = result(false);
const mb = (c: Buffer[]) => (c.reduce((n, x) => n + x.length, 0) / 1e6).toFixed(1);
console.log(
  `${ROWS.toLocaleString('en-US')} rows × ${columns.length} text columns (${mb(pii)} MB with PII, ${mb(clean)} MB clean), ` +
    `${CHUNK / 1024} KiB chunks, best of 5, node ${process.version}; rows/s per CPU-second (wall clock in parentheses)`,
);
measure('warm-up (JIT)', { detectors: DEFAULT_DETECTOR_STRATEGIES, columns: rules }, pii);
measure('pass-through (empty plan)', {}, pii);
measure('column rules only (detectors off)', { columns: rules }, pii);
measure('detectors on + column rules', { detectors: DEFAULT_DETECTOR_STRATEGIES, columns: rules }, pii);
measure('detectors on, clean data', { detectors: DEFAULT_DETECTOR_STRATEGIES, columns: rules }, clean);
