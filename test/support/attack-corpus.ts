import type { Profile } from './enforcement-target.js';
import { typed } from './wire.js';

/**
 * Attacks on the Postgres data path, by class of issue 22 ("Enforcement that holds"). Each says how
 * it is sent and what the secure outcome is; the runner (attack-runner.ts) also checks, after every
 * attack, that no canary reached the client or the target and that no marker file was created.
 *
 * Classes: 1 parser differentials, 2 unjudged protocol messages, 3 SQL inside strings, 4 code and
 * reach created by DDL, 5 the masking proof, 6 values in errors and side channels, 7 writes that
 * hit everything, 8 the in-band masking counter.
 */
export type AttackClass = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/**
 * simple: node-postgres simple Query; extended: node-postgres Parse/Bind/Execute; binary: the same
 * with binary results; pipeline: postgres.js, every step in flight at once on one connection;
 * psql: the real psql reading the steps from stdin; raw: hand-made frames (test/support/wire.ts).
 */
export type Transport = 'simple' | 'extended' | 'binary' | 'pipeline' | 'psql' | 'raw';

/** A step's secure outcome: refused with a SQLSTATE, refused or the session ended, must succeed, or only the leak checks. */
export type Expect = 'any' | 'ok' | 'refused-or-closed' | { refused: string; mentions?: RegExp };

export interface Step {
  sql?: string;
  /** raw only: the Query text as bytes (encodings). */
  bytes?: Buffer;
  /** raw only: whole frames instead of a Query. */
  frames?: Buffer[];
  expect?: Expect;
}

/** Extra checks on the target after the attack. */
export type Check = 'orders-intact' | 'no-new-objects' | 'no-large-objects' | 'sink-empty' | 'no-alter-system';

export interface Attack {
  id: string;
  class: AttackClass;
  title: string;
  profile: Profile;
  transport: Transport;
  steps: Step[];
  /** Startup parameters beyond user and database (pg/postgres.js: options, client_encoding; psql: PGOPTIONS, PGCLIENTENCODING). */
  startup?: Record<string, string>;
  startupVersion?: number;
  /** The connection must be refused (a pinned parameter, a replication startup). */
  connect?: 'refused';
  connectMentions?: RegExp;
  checks?: Check[];
}

/** What attacks need to know about the target of this run. */
export interface CorpusContext {
  marker: string;
  secretFile: string;
  appRole: string;
  targetDb: string;
  oids: { pgReadFile: number; secretOf: number; setConfig: number; loImport: number; queryToXml: number };
}

export const REFUSED: Expect = { refused: '42501' };

/** A statement that reads the same for the policy only while standard_conforming_strings is on. */
export function scsSmuggle(payload: string): string {
  return `SELECT 'a\\' || '; ${payload}; --'`;
}

/** Query text whose multi-byte character in `encoding` ends in 0x5C, hiding `payload` from a UTF-8 reader. */
export function encodingSmuggle(encoding: 'SJIS' | 'BIG5' | 'GBK', payload: string): Buffer {
  const lead = { SJIS: 0x95, BIG5: 0xa5, GBK: 0x81 }[encoding];
  return Buffer.concat([Buffer.from("SELECT E'"), Buffer.from([lead, 0x5c]), Buffer.from(`' ; ${payload}; --'`)]);
}

/** A FunctionCall ('F') frame: text arguments, text result. */
export function functionCall(oid: number, args: (string | null)[]): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(8);
  head.writeInt32BE(oid, 0);
  head.writeInt16BE(1, 4); // one format code for all arguments
  head.writeInt16BE(0, 6); // text
  parts.push(head);
  const n = Buffer.alloc(2);
  n.writeInt16BE(args.length, 0);
  parts.push(n);
  for (const arg of args) {
    const len = Buffer.alloc(4);
    if (arg === null) {
      len.writeInt32BE(-1, 0);
      parts.push(len);
    } else {
      len.writeInt32BE(Buffer.byteLength(arg), 0);
      parts.push(len, Buffer.from(arg));
    }
  }
  parts.push(Buffer.from([0, 0])); // text result
  return typed('F', Buffer.concat(parts));
}

const sync = () => typed('S', Buffer.alloc(0));
const parse = (sql: string) => typed('P', Buffer.concat([Buffer.from(`\0${sql}\0`), Buffer.from([0, 0])]));
const bind = () => typed('B', Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]));
const execute = () => typed('E', Buffer.from([0, 0, 0, 0, 0]));

/** Class 1: the gateway's parser and the server must read the same text the same way. */
export function lexingAttacks(ctx: CorpusContext): Attack[] {
  const program = `COPY (SELECT 1) TO PROGRAM $m$touch ${ctx.marker}$m$`;
  const smuggle = scsSmuggle(program);
  const leakSmuggle = scsSmuggle('SELECT upper(secret) AS s FROM customers');
  const scsOff: [string, string][] = [
    ['SET', 'SET standard_conforming_strings = off'],
    ['SET TO false', 'SET standard_conforming_strings TO false'],
    ['SET SESSION = 0', 'SET SESSION standard_conforming_strings = 0'],
    ['quoted name', `SET "standard_conforming_strings" = 'off'`],
    ['set_config', `SELECT set_config('standard_conforming_strings', 'off', false)`],
    ['pg_catalog.set_config', `SELECT pg_catalog.set_config('standard_conforming_strings', 'off', false)`],
    ['backslash_quote', 'SET backslash_quote = on'],
  ];
  const attacks: Attack[] = [];
  const transports: Transport[] = ['simple', 'extended', 'pipeline', 'psql', 'raw'];
  scsOff.forEach(([label, sql], i) => {
    attacks.push({
      id: `1.scs.${label}`,
      class: 1,
      title: `${label} then a backslash-quote string hiding COPY TO PROGRAM`,
      profile: 'guard',
      transport: transports[i % transports.length]!,
      steps: [{ sql, expect: REFUSED }, { sql: smuggle }],
    });
  });
  for (const transport of transports) {
    attacks.push({
      id: `1.scs.${transport}`,
      class: 1,
      title: `SET standard_conforming_strings = off (${transport}), then the smuggled COPY TO PROGRAM`,
      profile: 'guard',
      transport,
      steps: [{ sql: 'SET standard_conforming_strings = off', expect: REFUSED }, { sql: smuggle }],
    });
  }
  // RESET returns to the session's startup value, which the pin decides: refused or harmless.
  for (const sql of ['RESET standard_conforming_strings', 'RESET ALL', 'DISCARD ALL']) {
    attacks.push({
      id: `1.reset.${sql}`,
      class: 1,
      title: `${sql}, then the smuggle: refused, or the setting stays pinned`,
      profile: 'guard',
      transport: 'simple',
      steps: [{ sql }, { sql: smuggle }],
    });
  }
  const indirect: [string, string][] = [
    ['set_config with a computed name', `SELECT set_config('standard_conforming_' || 'strings', 'off', false)`],
    [
      'set_config over a row source',
      `SELECT set_config(name, 'off', false) FROM pg_settings WHERE name = 'standard_conforming_strings'`,
    ],
    ['UPDATE pg_settings', `UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'`],
    ['DO block', `DO $$ BEGIN PERFORM set_config('standard_conforming_strings', 'off', false); END $$`],
  ];
  for (const [label, sql] of indirect) {
    attacks.push({
      id: `1.indirect.${label}`,
      class: 1,
      title: `${label}: refused, or the session ends when the server reports the change`,
      profile: 'guard',
      transport: 'simple',
      steps: [{ sql, expect: 'refused-or-closed' }, { sql: smuggle }],
    });
  }
  attacks.push(
    {
      id: '1.scs.local-in-transaction',
      class: 1,
      title: 'SET LOCAL inside a transaction, then the smuggle',
      profile: 'guard',
      transport: 'simple',
      steps: [
        { sql: 'BEGIN' },
        { sql: 'SET LOCAL standard_conforming_strings = off', expect: REFUSED },
        { sql: smuggle },
        { sql: 'COMMIT' },
      ],
    },
    {
      id: '1.scs.masking-only',
      class: 1,
      title: 'a connection with column rules only: SET standard_conforming_strings = off, then a hidden read',
      profile: 'mask-only',
      transport: 'simple',
      steps: [{ sql: 'SET standard_conforming_strings = off', expect: REFUSED }, { sql: leakSmuggle }],
    },
    {
      id: '1.alter-role-set',
      class: 1,
      title: 'ALTER ROLE (own role) SET standard_conforming_strings on a column-rules-only connection',
      profile: 'mask-only',
      transport: 'simple',
      steps: [{ sql: `ALTER ROLE ${ctx.appRole} SET standard_conforming_strings = off`, expect: REFUSED }],
    },
    {
      id: '1.alter-role-in-database-set',
      class: 1,
      title: 'ALTER ROLE ... IN DATABASE ... SET client_encoding',
      profile: 'mask-only',
      transport: 'extended',
      steps: [
        {
          sql: `ALTER ROLE ${ctx.appRole} IN DATABASE "${ctx.targetDb}" SET client_encoding = 'SJIS'`,
          expect: REFUSED,
        },
      ],
    },
    {
      id: '1.alter-database-set',
      class: 1,
      title: 'ALTER DATABASE ... SET standard_conforming_strings',
      profile: 'guard',
      transport: 'simple',
      steps: [{ sql: `ALTER DATABASE "${ctx.targetDb}" SET standard_conforming_strings = off`, expect: REFUSED }],
    },
    {
      id: '1.function-set-clause',
      class: 1,
      title: 'a PL/pgSQL function whose SET clause turns standard_conforming_strings off for its own body',
      profile: 'guard',
      transport: 'simple',
      steps: [
        {
          sql: `CREATE FUNCTION scs_fn() RETURNS int LANGUAGE plpgsql SET standard_conforming_strings = off AS $f$ BEGIN PERFORM 'a\\' || '; ${program}; RETURN 1; END; --'; RETURN 2; END $f$`,
          expect: REFUSED,
        },
        { sql: 'SELECT scs_fn()' },
      ],
      checks: ['no-new-objects'],
    },
  );
  for (const [transport, startup] of [
    ['simple', { options: '-c standard_conforming_strings=off' }],
    ['psql', { options: '-c standard_conforming_strings=off' }],
    ['raw', { options: '--standard_conforming_strings=off' }],
    ['raw', { options: '-c backslash_quote=on' }],
    ['raw', { standard_conforming_strings: 'off' }],
  ] as const) {
    attacks.push({
      id: `1.startup.${transport}.${Object.values(startup)[0]}`,
      class: 1,
      title: `startup parameter ${JSON.stringify(startup)} is refused, naming it`,
      profile: 'guard',
      transport,
      startup,
      connect: 'refused',
      connectMentions: /standard_conforming_strings|backslash_quote/,
      steps: [{ sql: smuggle }],
    });
  }
  for (const encoding of ['SJIS', 'BIG5', 'GBK'] as const) {
    const bytes = encodingSmuggle(encoding, program);
    attacks.push(
      {
        id: `1.encoding.startup.${encoding}`,
        class: 1,
        title: `client_encoding=${encoding} at startup (a 0x5C trailing byte) is refused, naming it`,
        profile: 'guard',
        transport: 'raw',
        startup: { client_encoding: encoding },
        connect: 'refused',
        connectMentions: /client_encoding/,
        steps: [{ bytes }],
      },
      {
        id: `1.encoding.set.${encoding}`,
        class: 1,
        title: `SET client_encoding = ${encoding}, then a multi-byte character ending in a backslash`,
        profile: 'guard',
        transport: 'raw',
        steps: [{ sql: `SET client_encoding = '${encoding}'`, expect: REFUSED }, { bytes }],
      },
    );
  }
  attacks.push(
    {
      id: '1.encoding.options',
      class: 1,
      title: 'options=-c client_encoding=BIG5 at startup is refused',
      profile: 'guard',
      transport: 'raw',
      startup: { options: '-c client_encoding=BIG5' },
      connect: 'refused',
      connectMentions: /client_encoding/,
      steps: [{ bytes: encodingSmuggle('BIG5', program) }],
    },
    {
      id: '1.encoding.set-names',
      class: 1,
      title: `SET NAMES 'GBK', then the smuggle`,
      profile: 'guard',
      transport: 'raw',
      steps: [{ sql: `SET NAMES 'GBK'`, expect: REFUSED }, { bytes: encodingSmuggle('GBK', program) }],
    },
    {
      id: '1.encoding.set_config',
      class: 1,
      title: `set_config('client_encoding', 'SJIS'), then the smuggle`,
      profile: 'guard',
      transport: 'raw',
      steps: [
        { sql: `SELECT set_config('client_encoding', 'SJIS', false)`, expect: 'refused-or-closed' },
        { bytes: encodingSmuggle('SJIS', program) },
      ],
    },
    {
      id: '1.encoding.psql-pgclientencoding',
      class: 1,
      title: 'psql with PGCLIENTENCODING=SJIS is refused, naming client_encoding',
      profile: 'guard',
      transport: 'psql',
      startup: { client_encoding: 'SJIS' },
      connect: 'refused',
      connectMentions: /client_encoding/,
      steps: [{ sql: 'SELECT 1' }],
    },
  );
  return attacks;
}

/** Class 2: every frontend message is judged or refused; replication startups are refused. */
export function protocolAttacks(ctx: CorpusContext): Attack[] {
  const attacks: Attack[] = [
    {
      id: '2.function-call.pg_read_file',
      class: 2,
      title: 'FunctionCall by OID of pg_read_file(secret file)',
      profile: 'guard',
      transport: 'raw',
      steps: [{ frames: [functionCall(ctx.oids.pgReadFile, [ctx.secretFile])], expect: 'refused-or-closed' }],
    },
    {
      id: '2.function-call.masked-column',
      class: 2,
      title: 'FunctionCall by OID of a function returning a masked column',
      profile: 'mask',
      transport: 'raw',
      steps: [{ frames: [functionCall(ctx.oids.secretOf, ['1'])], expect: 'refused-or-closed' }],
    },
    {
      id: '2.function-call.query_to_xml',
      class: 2,
      title: 'FunctionCall of query_to_xml with SQL over the masked column',
      profile: 'mask',
      transport: 'raw',
      steps: [
        {
          frames: [functionCall(ctx.oids.queryToXml, ['select secret from customers', 't', 'f', ''])],
          expect: 'refused-or-closed',
        },
      ],
    },
    {
      id: '2.function-call.set_config',
      class: 2,
      title: 'FunctionCall of set_config(standard_conforming_strings, off), then the smuggle',
      profile: 'guard',
      transport: 'raw',
      steps: [
        {
          frames: [functionCall(ctx.oids.setConfig, ['standard_conforming_strings', 'off', 'f'])],
          expect: 'refused-or-closed',
        },
        { sql: scsSmuggle(`COPY (SELECT 1) TO PROGRAM $m$touch ${ctx.marker}$m$`) },
      ],
    },
    {
      id: '2.function-call.lo_import',
      class: 2,
      title: 'FunctionCall of lo_import(secret file)',
      profile: 'guard',
      transport: 'raw',
      steps: [{ frames: [functionCall(ctx.oids.loImport, [ctx.secretFile])], expect: 'refused-or-closed' }],
      checks: ['no-large-objects'],
    },
    {
      id: '2.function-call.in-pipeline',
      class: 2,
      title: 'a FunctionCall between extended-protocol messages in one write',
      profile: 'mask',
      transport: 'raw',
      steps: [
        {
          frames: [parse('SELECT 1'), bind(), execute(), functionCall(ctx.oids.secretOf, ['2']), sync()],
          expect: 'refused-or-closed',
        },
      ],
    },
  ];
  for (const value of ['database', 'true', 'on', '1', 'yes']) {
    attacks.push({
      id: `2.replication.${value}`,
      class: 2,
      title: `a replication=${value} startup is refused`,
      profile: 'guard',
      transport: 'raw',
      startup: { replication: value },
      connect: 'refused',
      connectMentions: /replication/,
      steps: [{ sql: 'IDENTIFY_SYSTEM' }],
    });
  }
  return attacks;
}
