import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { compileShellPolicy } from '@warden/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Command guardrails (issue 23), property: command lines composed at random out of the ways a
// shell can run a program the policy cannot see (substitutions, variables, eval, pipes and
// here-strings into shells, interpreters' inline code, find -exec, xargs, env, written files,
// brace expansion, globs, nested bash -c, copies written by programs and run under a listed
// name...) around a canary program whose name is itself built out of quoted fragments. Every line is judged by the policy directly and run for real with
// `bash -c` (PATH holds the canary): no line the policy lets through may run the canary, under an
// allow_commands rule that does not list it, a deny_commands rule that names it, or a
// deny_commands rule with a require_command_review rule for dynamic lines (held, not allowed).

const hex = randomBytes(4).toString('hex');
const NAME = `warden-canary-${hex}`;
const RUNS = Number(process.env.COMMAND_GUARDRAILS_PROPERTY_RUNS ?? 300);

/** The same permissive ops allow-list as the end-to-end test (shells and interpreters listed). */
const ALLOWED = [
  'ls',
  'cat',
  'grep',
  'wc',
  'sort',
  'head',
  'tail',
  'find',
  'xargs',
  'sudo',
  'env',
  'timeout',
  'nice',
  'nohup',
  'awk',
  'sed',
  'base64',
  'bash',
  'sh',
  'python3',
  'perl',
  'node',
  'cp',
  'mv',
  'ln',
  'chmod',
  'tee',
  'mkdir',
  'tar',
  'date',
  'uname',
  'hostname',
  'df',
  'du',
  'ps',
  'stat',
  'uniq',
  'cut',
  'tr',
];

const dir = path.join(tmpdir(), `warden-cg-prop-${hex}`);
/** First on the runs' PATH: the canary, named like the real one (and whatever a line copies there). */
const bin = path.join(dir, 'bin');
const marker = path.join(dir, 'marker');
const home = path.join(dir, 'home');
const cwd = path.join(dir, 'cwd');
/** Present before the runs: scripts that run the canary, a directory and an archive holding a copy named `ls`. */
const prep = path.join(dir, 'prep');
const CANARY = `#!/bin/sh\necho "ran $0 $*" >> '${marker}'\n`;
const LDSO = '/lib64/ld-linux-x86-64.so.2';

beforeAll(async () => {
  await mkdir(bin, { recursive: true });
  await mkdir(home);
  await mkdir(path.join(prep, 'tar'), { recursive: true });
  await writeFile(path.join(bin, NAME), CANARY, { mode: 0o755 });
  await chmod(path.join(bin, NAME), 0o755);
  await writeFile(path.join(prep, 'payload.sh'), `${NAME}\n`);
  await writeFile(path.join(prep, 'payload.py'), `import os\nos.system("${NAME}")\n`);
  await writeFile(path.join(prep, 'tar', 'ls'), CANARY, { mode: 0o755 });
  await chmod(path.join(prep, 'tar', 'ls'), 0o755);
  await new Promise<void>((resolve, reject) =>
    execFile('tar', ['-cf', path.join(prep, 'ls.tar'), '-C', path.join(prep, 'tar'), 'ls'], (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  await writeFile(path.join(prep, 'prog.awk'), `BEGIN { system("${NAME}") }\n`);
  await writeFile(path.join(prep, 'prog.sed'), `1e ${NAME}\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs a line with `bash -c` in a fresh working directory; whether the canary ran. */
async function runsCanary(line: string): Promise<boolean> {
  await rm(marker, { force: true });
  await rm(cwd, { recursive: true, force: true });
  await mkdir(cwd);
  // Only the canary in bin: a copy a previous line left there (say as `ls`) must not run now.
  for (const file of await readdir(bin)) if (file !== NAME) await rm(path.join(bin, file), { force: true });
  await new Promise<void>((resolve) => {
    const child = spawn('bash', ['-c', line], {
      cwd,
      env: { PATH: `${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: home, LANG: 'C' },
      stdio: 'ignore',
      detached: true,
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5_000);
    child.on('error', () => resolve());
    child.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  let ran = await readFile(marker, 'utf8').catch(() => '');
  if (!ran) {
    // A canary started in the background may still be on its way.
    await new Promise((r) => setTimeout(r, 20));
    ran = await readFile(marker, 'utf8').catch(() => '');
  }
  return ran !== '';
}

/** Single-quotes a string for the shell. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A piece of the name, quoted one of several ways (all evaluate to the piece). */
const quotedPiece = (piece: string) =>
  fc.constantFrom(
    piece,
    `'${piece}'`,
    `"${piece}"`,
    `$'${[...piece].map((c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')}'`,
    [...piece].map((c) => (/[a-z]/.test(c) ? `\\${c}` : c)).join(''),
  );

/** The name split in 1 to 4 pieces, each quoted its own way: one shell word. */
const splitName: fc.Arbitrary<string> = fc
  .uniqueArray(fc.integer({ min: 1, max: NAME.length - 1 }), { maxLength: 3 })
  .chain((cuts) => {
    const points = [0, ...cuts.sort((a, b) => a - b), NAME.length];
    const pieces = points.slice(1).map((end, i) => NAME.slice(points[i], end));
    return fc.tuple(...pieces.map(quotedPiece)).map((quoted) => quoted.join(''));
  });

/** The name as pieces (for printf %s a b c). */
const namePieces: fc.Arbitrary<string[]> = fc
  .uniqueArray(fc.integer({ min: 1, max: NAME.length - 1 }), { minLength: 1, maxLength: 3 })
  .map((cuts) => {
    const points = [0, ...cuts.sort((a, b) => a - b), NAME.length];
    return points.slice(1).map((end, i) => NAME.slice(points[i], end));
  });

/** A word that is the canary's name or path (once quotes are removed). */
const valueWord: fc.Arbitrary<string> = fc.oneof(
  splitName,
  splitName.map((w) => `${bin}/${w}`),
);

/** A word in command position that runs the canary (expansions included). */
const programWord: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: valueWord },
  fc.constantFrom(
    `${bin}/warden-canary-${hex.slice(0, 4)}*`,
    `${bin}/warden-c?nary-${hex}`,
    `${bin}/warden-[c]anary-${hex}`,
    `{${NAME},}`,
    `{warden-can,}ary-${hex}`,
  ),
);

/**
 * A copy of the canary written by some program, then run: under a listed name first on PATH
 * (`ls`, `wc`, ...: the allow-list sees only listed programs), by its path, or as a script.
 */
const copiedAndRun: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom<(src: string, dst: string) => string>(
      (src, dst) => `cp ${src} ${dst}`,
      (src, dst) => `cat ${src} > ${dst}`,
      (src, dst) => `tee ${dst} < ${src} > /dev/null`,
      (src, dst) => `dd if=${src} of=${dst} 2>/dev/null`,
      (src, dst) => `sed -n 'w ${dst}' ${src}`,
      (src, dst) => `install -m 755 ${src} ${dst}`,
      (src, dst) => `sort -o ${dst} ${src}`,
      (src, dst) => `uniq ${src} ${dst}`,
      (src, dst) => `awk '{ print > "${dst}" }' ${src}`,
      (src, dst) => `head -c 100000 ${src} | tee ${dst} > /dev/null`,
      (src, dst) => `split -n 1 ${src} ${dst}.; mv ${dst}.aa ${dst}`,
    ),
    fc.constantFrom('ls', 'wc', 'head', 'df', 'du', 'uname', 'date', 'x'),
    fc.constantFrom('name', 'path', 'sh'),
  )
  .map(([write, name, how]) => {
    const dst = `${bin}/${name}`;
    const run = how === 'name' && name !== 'x' ? name : how === 'sh' ? `sh ${dst}` : dst;
    return `${write(`${bin}/${NAME}`, dst)}; chmod +x ${dst}; ${run}`;
  });

/** One simple command (possibly with a few statements before it) that runs the canary. */
const simple: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: programWord },
  programWord.map((w) => `$(echo ${w})`),
  programWord.map((w) => `\`echo ${w}\``),
  namePieces.map((p) => `$(printf %s ${p.join(' ')})`),
  fc
    .tuple(valueWord, fc.constantFrom('$c', '"$c"', '${c}', '${c:-x}', '"${c[@]}"'))
    .map(([w, use]) => `c=${w}; ${use}`),
  namePieces.map(
    (p) => `${p.map((piece, i) => `p${i}=${q(piece)}`).join('; ')}; ${p.map((_, i) => `$p${i}`).join('')}`,
  ),
  fc
    .tuple(
      fc.constantFrom('env', 'timeout 5', 'nice', 'nice -n 3', 'command', 'nohup', 'exec', 'time', '!', 'builtin eval'),
      programWord,
    )
    .map(([runner, w]) => `${runner} ${w}`),
  programWord.map((w) => `echo x | xargs ${w}`),
  programWord.map((w) => `find . -maxdepth 0 -exec ${w} \\;`),
  programWord.map((w) => `sh -c '"$0"' ${w}`),
  valueWord.map((w) => `read v <<< ${w}; $v`),
  programWord.map((w) => `exec -a ls ${w}`),
  programWord.map((w) => `2>/dev/null ${w}`),
  programWord.map((w) => `coproc ${w}; wait`),
  programWord.map((w) => `sort -S 100k --compress-program=${w} /usr/bin/bash >/dev/null`),
  programWord.map((w) => `prlimit --nofile=1024 ${w}`),
  programWord.map((w) => `choom -n 0 -- ${w}`),
  fc.constant(`run-parts --regex '^${NAME}$' ${bin}`),
  fc.constant(`find ${bin} -name '${NAME}' -exec {} \\;`),
  splitName.map((w) => `hash -p ${bin}/${w} ls; ls`),
  fc.constantFrom(
    `sh ${prep}/payload.sh`,
    `bash ${prep}/payload.sh`,
    `python3 ${prep}/payload.py`,
    `echo ${NAME} | bash /dev/stdin`,
    `bash /dev/fd/0 <<< ${NAME}`,
    `tar -xf ${prep}/ls.tar -C ${bin}; ls`,
    `cp -r ${prep}/tar/. ${bin}; ls`,
    `find ${prep}/tar -name ls -exec cp {} ${bin} \\; ; ls`,
    `echo ${prep}/tar/ls | xargs -I{} cp {} ${bin}; ls`,
    `tar -cf - -C ${prep}/tar ls | tar -xf - -C ${bin}; ls`,
    `python3 -m unittest discover -s ${prep} -p 'payload*.py'`,
    `awk -f ${prep}/prog.awk`,
    `sed -f ${prep}/prog.sed /etc/hostname`,
  ),
  { weight: 3, arbitrary: copiedAndRun },
);

const id = fc.integer({ min: 0, max: 9999 });

/** Ways to run a command line S from another command line. */
type Wrap = (s: string, k: number) => string;
const WRAPS: Wrap[] = [
  (s) => `eval ${q(s)}`,
  (s) => `bash -c ${q(s)}`,
  (s) => `sh -c ${q(s)}`,
  (s) => `env bash -c ${q(s)}`,
  (s) => `timeout 5 sh -c ${q(s)}`,
  (s) => `nice bash -c ${q(s)}`,
  (s) => `bash -c "$(printf %s ${q(s)})"`,
  (s) => `echo ${q(s)} | sh`,
  (s) => `printf '%s\\n' ${q(s)} | bash`,
  (s) => `echo ${Buffer.from(`${s}\n`).toString('base64')} | base64 -d | sh`,
  (s) => `bash <<< ${q(s)}`,
  (s, k) => `sh <<'E${k}'\n${s}\nE${k}`,
  (s, k) => `printf '%s\\n' ${q(s)} > f${k}.sh; sh f${k}.sh`,
  (s, k) => `printf '%s\\n' ${q(s)} > f${k}.sh; . ./f${k}.sh`,
  (s, k) => `printf '%s\\n' ${q(s)} | tee f${k}.sh >/dev/null; source f${k}.sh`,
  (s, k) => `printf '%s\\n' ${q(s)} > f${k}; chmod +x f${k}; ./f${k}`,
  (s) => `bash <(printf '%s\\n' ${q(s)})`,
  (s) => `source <(printf '%s\\n' ${q(s)})`,
  (s) => `find . -maxdepth 0 -exec sh -c ${q(s)} \\;`,
  (s) => `printf '%s' ${q(s)} | xargs -0 sh -c`,
  (s) => `python3 -c 'import os,sys; os.system(sys.argv[1])' ${q(s)}`,
  (s) => `perl -e 'system $ARGV[0]' ${q(s)}`,
  (s) => `awk 'BEGIN{system(ARGV[1])}' ${q(s)}`,
  (s) => `printf '%s\\n' ${q(s)} | sed e`,
  (s, k) => `f${k}() {\n${s}\n}\nf${k}`,
  (s) => `trap ${q(s)} EXIT`,
  (s) => `(\n${s}\n)`,
  (s) => `{\n${s}\n}`,
  (s) => `if true; then\n${s}\nfi`,
  (s) => `ls >/dev/null; ${s}`,
  (s) => `true && ${s}`,
  (s) => `false || ${s}`,
  (s) => `echo x | ${s}`,
  (s) => `: "$(${s})"`,
  (s) => `x=$(${s})`,
  (s, k) => `shopt -s expand_aliases\nalias z${k}=${q(s)}\nz${k}`,
  (s) => `PS4=${q(`$(${s})`)}; set -x; :`,
  (s) => `x=${q(`$(${s})`)}; : "\${x@P}"`,
  (s) => `x=${q(`a[$(${s})]`)}; : $((x))`,
  (s) => `test -v ${q(`a[$(${s})]`)}`,
  (s) => `read ${q(`a[$(${s})]`)} <<< x`,
  (s) => `printf -v ${q(`a[$(${s})]`)} x`,
  (s) => `let ${q(`a[$(${s})]=1`)}`,
  (s) => `declare -i x; x=${q(`a[$(${s})]`)}`,
  (s) => `x=${q(`a[$(${s})]`)}; f() { local -i y=x; }; f`,
  (s) => `mapfile -t -C ${q(`eval ${q(s)} #`)} -c 1 <<< x`,
  (s) => `trap ${q(s)} DEBUG; :`,
  (s) => `/proc/self/exe -c ${q(s)}`,
  (s) => `${LDSO} /bin/bash -c ${q(s)}`,
  (s) => `script -qc ${q(s)} /dev/null`,
  (s) => `flock lock -c ${q(s)}`,
  (s) => `tar -cf /dev/null /etc/hostname --checkpoint=1 --checkpoint-action=exec=${q(s)}`,
  (s, k) => `printf '%s\\n' ${q(s)} > e${k}.sh; BASH_ENV=./e${k}.sh bash -c :`,
];

const wrap = fc.tuple(fc.integer({ min: 0, max: WRAPS.length - 1 }), id);

/** A command line: a simple command wrapped 0 to 3 times. */
const commandLine: fc.Arbitrary<string> = fc
  .tuple(simple, fc.array(wrap, { maxLength: 3 }))
  .map(([s, wraps]) => wraps.reduce((line, [i, k]) => WRAPS[i]!(line, k), s));

const policies = () => ({
  'allow_commands without the canary': compileShellPolicy({
    guardrails: [{ type: 'allow_commands', name: 'ops-tools', commands: ALLOWED }],
  }),
  'deny_commands naming the canary': compileShellPolicy({
    guardrails: [{ type: 'deny_commands', name: 'no-canary', commands: [NAME] }],
  }),
  'deny_commands with review of dynamic lines': compileShellPolicy({
    guardrails: [{ type: 'deny_commands', name: 'no-canary', commands: [NAME] }],
    reviews: [
      {
        type: 'require_command_review',
        name: 'hold-dynamic',
        match: { dynamic: true },
        approverGroups: ['sre'],
      },
    ],
  }),
});

describe('command guardrails, property', () => {
  it('no generated line that the policy lets through runs the canary', async () => {
    const POLICIES = policies();
    let lines = 0;
    let running = 0;
    const allowedByPolicy: Record<string, number> = Object.fromEntries(Object.keys(POLICIES).map((k) => [k, 0]));
    // Every violation over the whole run (not only the first), so one bypass does not hide others.
    const violations: Record<string, string[]> = {};
    await fc.assert(
      fc.asyncProperty(commandLine, async (line) => {
        const decisions = await Promise.all(
          Object.entries(POLICIES).map(async ([name, policy]) => [name, (await policy.decide(line)).action] as const),
        );
        const ran = await runsCanary(line);
        lines += 1;
        if (ran) running += 1;
        for (const [name, action] of decisions) {
          if (action === 'allow') allowedByPolicy[name]! += 1;
          if (ran && action === 'allow') (violations[name] ??= []).push(line);
        }
      }),
      { numRuns: RUNS },
    );
    console.log(
      `command-guardrails property: ${lines} lines, ${running} ran the canary unguarded; ` +
        `allowed by policy: ${JSON.stringify(allowedByPolicy)}`,
    );
    const shortest = Object.fromEntries(
      Object.entries(violations).map(([name, found]) => [
        `${name} (${found.length} lines)`,
        [...new Set(found)].sort((a, b) => a.length - b.length).slice(0, 8),
      ]),
    );
    expect(shortest, 'lines the policy allowed that ran the canary (shortest first)').toEqual({});
    // The generator is meaningful: most of its lines do run the canary when nothing guards them.
    expect(running).toBeGreaterThan(0);
    expect(running / lines).toBeGreaterThan(0.5);
  }, 120_000);

  it('the same policies let ordinary lines through (they do not refuse everything)', async () => {
    const POLICIES = policies();
    for (const line of [
      'ls / | grep -c usr',
      `echo 'a b' "c d"`,
      'cd /tmp && pwd',
      'find /etc -maxdepth 1 -name hostname -exec wc -l {} \\;',
      `bash -c 'ls /etc/hostname'`,
      'echo /etc/hostname | xargs wc -l',
      'timeout 5 ls /etc/hostname',
    ]) {
      for (const [name, policy] of Object.entries(POLICIES)) {
        expect((await policy.decide(line)).action, `${name}: ${line}`).toBe('allow');
      }
    }
  });

  it('the generated lines are varied and parse as bash', async () => {
    const samples = fc.sample(commandLine, { numRuns: 400, seed: 23 });
    expect(new Set(samples).size).toBeGreaterThan(300);
    for (const line of samples.slice(0, 40)) {
      const res = await new Promise<number | null>((resolve) => {
        const child = spawn('bash', ['-n', '-c', line], { stdio: 'ignore' });
        child.on('close', resolve);
      });
      expect(res, line).toBe(0);
    }
  });
});
