import { BackendSerializer } from '@warden/pg-wire';
import { compilePolicy, defaultPolicyRules } from '@warden/policy';
import { describe, expect, it } from 'vitest';
import { LexingWatch } from './lexing-watch.js';
import {
  isReplicationRequest,
  judgeStartupParameters,
  optionSettings,
  setStatement,
  splitOptions,
} from './startup-parameters.js';

const defaults = compilePolicy(defaultPolicyRules(), 'defaults');
const noSet = compilePolicy({ guardrails: [{ type: 'deny_kinds', name: 'no-set', kinds: ['set'] }] }, 'no-set');

describe('splitOptions (as pg_split_opts)', () => {
  it('splits on whitespace and keeps backslash-escaped characters', () => {
    expect(splitOptions('  -c a=1\t-cb=2\n--c-d=3  ')).toEqual(['-c', 'a=1', '-cb=2', '--c-d=3']);
    expect(splitOptions('-c search_path=a,\\ b -c x=\\\\y')).toEqual(['-c', 'search_path=a, b', '-c', 'x=\\y']);
    expect(splitOptions('-c x=1\\')).toEqual(['-c', 'x=1']);
    expect(splitOptions('\\ ')).toEqual([' ']);
    expect(splitOptions('')).toEqual([]);
  });
});

describe('optionSettings', () => {
  it('reads -c name=value, -cname=value and --name=value, dashes in names as underscores', () => {
    expect(optionSettings(['-c', 'a=1', '-cb-c=2', '--standard-conforming-strings=off'])).toEqual({
      settings: [
        { name: 'a', value: '1' },
        { name: 'b_c', value: '2' },
        { name: 'standard_conforming_strings', value: 'off' },
      ],
    });
    expect(optionSettings(['-c', 'x=a=b'])).toEqual({ settings: [{ name: 'x', value: 'a=b' }] });
  });

  it('returns any other switch or word as unsupported', () => {
    for (const words of [['-e'], ['-O'], ['-ec', 'x=1'], ['-c'], ['-c', 'novalue'], ['--'], ['word'], ['--x']]) {
      expect(optionSettings(words)).toHaveProperty('unsupported');
    }
  });
});

describe('judgeStartupParameters on a guarded connection', () => {
  it('lets the usual driver parameters through under the default pack', () => {
    const jdbcLike = {
      user: 'u',
      database: 'd',
      client_encoding: 'UTF8',
      DateStyle: 'ISO',
      TimeZone: 'Europe/Paris',
      extra_float_digits: '2',
      application_name: "it's psql",
      statement_timeout: '100',
      search_path: 'app, "Weird Schema"',
      options:
        '-c lock_timeout=5s --idle-in-transaction-session-timeout=1min -c standard_conforming_strings=on -c myapp.tenant=42',
    };
    expect(judgeStartupParameters(jdbcLike, defaults)).toBeNull();
  });

  it('accepts any spelling of a pinned value and refuses another value, naming parameter and pin', () => {
    expect(
      judgeStartupParameters({ client_encoding: 'unicode', standard_conforming_strings: 'yes' }, defaults),
    ).toBeNull();
    const sjis = judgeStartupParameters({ client_encoding: 'SJIS' }, defaults);
    expect(sjis).toMatchObject({ code: '22023' });
    expect(sjis?.message).toContain('client_encoding');
    expect(sjis?.message).toContain('UTF8');
    for (const options of [
      '-c standard_conforming_strings=off',
      '-cstandard_conforming_strings=off',
      '--standard-conforming-strings=off',
      '-c Standard_Conforming_Strings=off',
    ]) {
      const refusal = judgeStartupParameters({ options }, defaults);
      expect(refusal, options).toMatchObject({ code: '22023' });
      expect(refusal?.message).toContain('standard_conforming_strings');
    }
    const quote = judgeStartupParameters({ options: '-c backslash_quote=on' }, defaults);
    expect(quote?.message).toContain('safe_encoding');
    // An escaped trailing space is part of the value (the server still reads SJIS): refused too.
    expect(judgeStartupParameters({ options: '-c client_encoding=SJIS\\ ' }, defaults)).toMatchObject({
      code: '22023',
    });
  });

  it('refuses server switches other than settings with 0A000', () => {
    expect(judgeStartupParameters({ options: '-O' }, defaults)).toMatchObject({ code: '0A000' });
    expect(judgeStartupParameters({ options: '-e -c x=1' }, defaults)?.message).toContain('"-e"');
  });

  it('judges each setting as the SET statement it amounts to', () => {
    const refusal = judgeStartupParameters({ application_name: 'x' }, noSet);
    expect(refusal).toMatchObject({ code: '42501' });
    expect(refusal?.message).toContain('no-set');
    expect(judgeStartupParameters({ options: '-c work_mem=8MB' }, noSet)?.message).toContain('work_mem');
    expect(judgeStartupParameters({ user: 'u', database: 'd' }, noSet)).toBeNull();
    expect(setStatement('my.Setting', "a'b")).toBe(`SET "my"."Setting" TO 'a''b'`);
  });
});

describe('isReplicationRequest (as the server reads the replication key)', () => {
  it('is true for database and every true spelling, false only for false spellings', () => {
    for (const v of ['database', 'true', 'on', 'yes', '1', 't', 'y', 'ON', '', 'o', ' off', 'maybe']) {
      expect(isReplicationRequest(v), v).toBe(true);
    }
    for (const v of ['false', 'off', 'no', '0', 'f', 'n', 'of', 'FALSE'])
      expect(isReplicationRequest(v), v).toBe(false);
  });
});

describe('LexingWatch', () => {
  const stream = Buffer.concat([
    BackendSerializer.commandComplete('SET'),
    BackendSerializer.parameterStatus('TimeZone', 'UTC'),
    BackendSerializer.parameterStatus('standard_conforming_strings', 'off'),
    BackendSerializer.readyForQuery('I'),
  ]);

  it('finds a pinned setting reported changed, however the stream is cut', () => {
    for (let size = 1; size <= stream.length; size++) {
      const watch = new LexingWatch();
      let found = null;
      for (let i = 0; i < stream.length && !found; i += size) found = watch.push(stream.subarray(i, i + size));
      expect(found, `chunks of ${size}`).toEqual({ name: 'standard_conforming_strings', value: 'off' });
    }
  });

  it('lets pinned values and other settings pass', () => {
    const watch = new LexingWatch();
    const ok = Buffer.concat([
      BackendSerializer.parameterStatus('client_encoding', 'UTF8'),
      BackendSerializer.parameterStatus('standard_conforming_strings', 'on'),
      BackendSerializer.dataRow([Buffer.from('standard_conforming_strings')]),
      BackendSerializer.parameterStatus('DateStyle', 'SQL, DMY'),
    ]);
    expect(watch.push(ok)).toBeNull();
    expect(watch.push(BackendSerializer.parameterStatus('client_encoding', 'SJIS'))).toEqual({
      name: 'client_encoding',
      value: 'SJIS',
    });
  });
});
