import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../support/api.js';
import type { CommandResult, DataPath } from '../support/data-path.js';
import type { SshClient } from './ssh-client.js';
import type { TargetSshd } from './target-sshd.js';
import { startSshTestbed } from './testbed.js';

// Command guardrails (issue 23) end to end: the real gateway, agent and an OpenSSH target that
// runs each exec line with the login shell (bash). A canary program, installed in
// /usr/local/bin under a random name, appends to a marker file when it runs. Every bypass line
// below runs it on an unguarded connection (checked first, so no refusal below is vacuous), and
// must not run it on a connection with an allow_commands rule that does not list it, nor on one
// with a deny_commands rule naming it: the client gets exit status 126 and `Warden: ...` naming
// the rule, and nothing runs on the target.
//
// Speed: a line takes about half a second through gateway, agent and target, and there are
// hundreds, so they run in LANE_COUNT parallel lanes. Each lane has its own canary (own name, marker,
// scratch directory) and runs its lines one at a time, so a marker write is always the line's
// own. The lines run in the describe blocks' beforeAll; each `it` asserts one line's outcome.

const execFileAsync = promisify(execFile);
const LANE_COUNT = 8;
const ALLOW_RULE = 'ops-tools';
const DENY_RULE = 'no-canary';
const LDSO = '/lib64/ld-linux-x86-64.so.2';
const root = path.join(tmpdir(), `warden-cg-${randomBytes(4).toString('hex')}`);

interface Lane {
  hex: string;
  /** The canary's name, and its path in /usr/local/bin. */
  C: string;
  P: string;
  /** An allow-listed in-house tool that is not installed: an attacker could put anything there. */
  report: string;
  reportPath: string;
  marker: string;
  /** Present before any line runs: a payload script, renamed copies of the canary. */
  prep: string;
  /** Where lines write; emptied before each of the lane's runs. */
  scratch: string;
  w(file: string): string;
  /** base64 of "<canary>\n". */
  b64: string;
  /** The lane's runs, one after the other. */
  queue: Promise<unknown>;
}

const LANES: Lane[] = Array.from({ length: LANE_COUNT }, (_, i) => {
  const hex = randomBytes(4).toString('hex');
  const dir = path.join(root, `lane-${i}`);
  const C = `warden-canary-${hex}`;
  return {
    hex,
    C,
    P: `/usr/local/bin/${C}`,
    report: `warden-report-${hex}`,
    reportPath: `/usr/local/bin/warden-report-${hex}`,
    marker: path.join(dir, 'marker'),
    prep: path.join(dir, 'prep'),
    scratch: path.join(dir, 'scratch'),
    w: (file: string) => path.join(dir, 'scratch', file),
    b64: Buffer.from(`${C}\n`).toString('base64'),
    queue: Promise.resolve(),
  };
});

/**
 * A permissive but realistic ops allow-list: shells, interpreters, awk/sed, find/xargs, cp/tee
 * and the usual wrappers are listed, so a refusal below cannot come from an unlisted runner alone
 * but has to come from the dynamic construct. None of the canaries is listed; the lanes'
 * "report" tools are (they are not installed).
 */
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
  ...LANES.map((l) => l.report),
];

let dp: DataPath;
let target: TargetSshd;
let ssh: SshClient;
let key: string;

beforeAll(async () => {
  expect(process.getuid?.(), 'these tests install programs in /usr/local/bin and need root').toBe(0);
  for (const l of LANES) {
    expect(existsSync(l.P)).toBe(false);
    expect(existsSync(l.reportPath)).toBe(false);
    await mkdir(path.join(l.prep, 'bin'), { recursive: true });
    await writeFile(l.P, `#!/bin/sh\necho "ran $0 $*" >> '${l.marker}'\n`, { mode: 0o755 });
    await chmod(l.P, 0o755);
    // A copy at a temp path, and copies named like an innocuous program and like listed ones.
    for (const copy of ['canary-copy', 'bin/x', 'bin/ls', 'bin/echo']) {
      await copyFile(l.P, path.join(l.prep, copy));
      await chmod(path.join(l.prep, copy), 0o755);
    }
    await writeFile(path.join(l.prep, 'payload.sh'), `${l.C}\n`);
    await writeFile(path.join(l.prep, 'payload.py'), `import os\nos.system("${l.C}")\n`);
    // An archive holding a copy of the canary under the allow-listed report name.
    await mkdir(path.join(l.prep, 'tar'));
    await copyFile(l.P, path.join(l.prep, 'tar', l.report));
    await chmod(path.join(l.prep, 'tar', l.report), 0o755);
    await execFileAsync('tar', ['-cf', path.join(l.prep, 'report.tar'), '-C', path.join(l.prep, 'tar'), l.report]);
    // The same copy in a directory; an awk program, a sed script and a python module that run the canary.
    await mkdir(path.join(l.prep, 'reportdir'));
    await copyFile(l.P, path.join(l.prep, 'reportdir', l.report));
    await chmod(path.join(l.prep, 'reportdir', l.report), 0o755);
    await writeFile(path.join(l.prep, 'prog.awk'), `BEGIN { system("${l.C}") }\n`);
    await writeFile(path.join(l.prep, 'prog.sed'), `1e ${l.C}\n`);
  }
  ({ target, dp, ssh, key } = await startSshTestbed({ 'cg-open': {}, 'cg-allow': {}, 'cg-deny': {}, 'cg-review': {} }));
}, 180_000);

afterAll(async () => {
  for (const client of clients.values()) client.end();
  await dp?.close();
  await target?.stop();
  for (const l of LANES) {
    await rm(l.P, { force: true });
    await rm(l.reportPath, { force: true });
  }
  await rm(root, { recursive: true, force: true });
  if (ssh) await rm(ssh.dir, { recursive: true, force: true });
});

/**
 * One ssh2 client per connection name, each exec a new channel on it (a handshake through
 * gateway and agent per line would add up). The OpenSSH client (`ssh.run`) runs the benign lines
 * and the message checks.
 */
const clients = new Map<string, ssh2.Client>();

async function clientFor(connection: string): Promise<ssh2.Client> {
  const existing = clients.get(connection);
  if (existing) return existing;
  const client = await new Promise<ssh2.Client>((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect({ host: '127.0.0.1', port: dp.sshPort, username: connection, password: dp.adminKey });
  });
  client.on('error', () => clients.delete(connection));
  client.on('close', () => clients.delete(connection));
  clients.set(connection, client);
  return client;
}

async function exec(connection: string, line: string): Promise<CommandResult> {
  const client = await clientFor(connection);
  return new Promise((resolve, reject) =>
    client.exec(line, (err, channel) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      const timer = setTimeout(() => channel.close(), 30_000);
      channel.on('data', (d: Buffer) => (stdout += d.toString()));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      channel.on('exit', (c: number | null) => (code = c));
      channel.on('close', () => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    }),
  );
}

type Run = CommandResult & { ran: string; line: string };

/**
 * Runs one exec line in a lane, after the lane's previous runs, from a clean state; `ran` is what
 * the lane's canary wrote meanwhile ('' if it did not run). `openssh`: the real ssh client,
 * otherwise an ssh2 channel.
 */
function runLine(l: Lane, connection: string, line: string, client: 'openssh' | 'ssh2' = 'ssh2'): Promise<Run> {
  const run = async (): Promise<Run> => {
    await rm(l.marker, { force: true });
    await rm(l.reportPath, { force: true });
    await rm(l.scratch, { recursive: true, force: true });
    await mkdir(l.scratch);
    const res =
      client === 'openssh'
        ? await ssh.run(connection, [line], { key, timeoutMs: 30_000 })
        : await exec(connection, line);
    const marker = () => readFile(l.marker, 'utf8').catch(() => '');
    // A canary started in the background may write a moment after the channel closed.
    let ran = await marker();
    if (!ran && res.code !== 126) {
      await new Promise((r) => setTimeout(r, 300));
      ran = await marker();
    }
    return { ...res, ran, line };
  };
  const result = l.queue.then(run, run);
  l.queue = result.catch(() => undefined);
  return result;
}

/** Runs jobs spread over the lanes (job i in lane i mod LANE_COUNT); results by key. */
async function runAll(jobs: { key: string; run: (l: Lane) => Promise<Run> }[]): Promise<Map<string, Run>> {
  const results = await Promise.all(jobs.map((job, i) => job.run(LANES[i % LANE_COUNT]!)));
  return new Map(jobs.map((job, i) => [job.key, results[i]!]));
}

type Mode = 'allow' | 'deny';

interface Bypass {
  /** What the line tries. */
  name: string;
  line: string;
  /** Whether the line runs the canary on an unguarded connection (false: only where sudo is absent). */
  live?: boolean;
  /** The connections that must refuse it (default both). */
  modes?: Mode[];
}

/** The bypass lines for one lane; every one runs the lane's canary when nothing guards it. */
function bypasses(l: Lane): Bypass[] {
  return [
    // The program name computed at run time.
    { name: 'command substitution $(...) in command position', line: `$(echo ${l.C})` },
    { name: 'backticks in command position', line: `\`echo ${l.C}\`` },
    { name: 'substitution assembling the name from pieces', line: `$(printf %s warden-can ary-${l.hex})` },
    { name: 'quoted substitution in command position', line: `"$(echo ${l.C})"` },
    { name: 'variable $c', line: `c=${l.C}; $c` },
    { name: 'variable ${c}', line: `c=${l.C}; \${c}` },
    { name: 'variable "$c"', line: `c=${l.C}; "$c"` },
    { name: 'variable built from two pieces', line: `a=warden-can; b=ary-${l.hex}; $a$b` },
    { name: 'indirect expansion ${!m}', line: `n=${l.C}; m=n; \${!m}` },
    { name: 'array element', line: `a=(${l.C}); "\${a[@]}"` },
    { name: 'positional parameters from set --', line: `set -- ${l.C}; "$@"` },
    { name: 'default value of an unset variable', line: `\${nothing:-${l.C}}` },
    { name: 'pattern substitution of a variable', line: `c=wXrden-canary-${l.hex}; \${c/X/a}` },
    { name: 'read into a variable', line: `read c <<< ${l.C}; $c` },
    { name: 'printf -v into a variable', line: `printf -v c %s ${l.C}; $c` },
    { name: 'shell in $BASH', line: `"$BASH" -c ${l.C}` },
    { name: 'ANSI-C quoting with a hex escape', line: `$'\\x77arden-canary-${l.hex}'` },
    { name: 'ANSI-C quoting with an octal escape', line: `$'\\167arden-canary-${l.hex}'` },
    { name: 'brace expansion {canary,}', line: `{${l.C},}` },
    { name: 'brace expansion assembling the name', line: `{warden-can,}ary-${l.hex}` },
    { name: 'glob * in command position', line: `/usr/local/bin/warden-canary-${l.hex.slice(0, 7)}*` },
    { name: 'glob ? in command position', line: `/usr/local/bin/warden-c?nary-${l.hex}` },
    { name: 'glob [..] in command position', line: `/usr/local/bin/warden-[c]anary-${l.hex}` },
    // Code evaluated by the shell itself.
    { name: 'eval', line: `eval ${l.C}` },
    { name: 'eval of a split name', line: `eval "warden-can""ary-${l.hex}"` },
    { name: 'builtin eval', line: `builtin eval ${l.C}` },
    { name: 'command eval', line: `command eval ${l.C}` },
    { name: 'source of a written file', line: `echo ${l.C} > ${l.w('s.sh')}; source ${l.w('s.sh')}` },
    { name: '. of a written file', line: `echo ${l.C} > ${l.w('s.sh')}; . ${l.w('s.sh')}` },
    { name: '. of an existing script', line: `. ${l.prep}/payload.sh` },
    { name: 'source of a process substitution', line: `source <(echo ${l.C})` },
    { name: '. of a process substitution', line: `. <(echo ${l.C})` },
    { name: 'source /dev/stdin with a here-string', line: `source /dev/stdin <<< ${l.C}` },
    { name: 'function definition calling it', line: `f() { ${l.C}; }; f` },
    { name: 'function shadowing an allowed program', line: `ls() { ${l.C}; }; ls` },
    { name: 'function keyword', line: `function g { ${l.C}; }; g` },
    { name: 'alias used on the next line', line: `shopt -s expand_aliases\nalias ll=${l.C}\nll` },
    { name: 'alias shadowing an allowed program', line: `shopt -s expand_aliases\nalias ls=${l.C}\nls /` },
    { name: 'BASH_ALIASES entry', line: `shopt -s expand_aliases\nBASH_ALIASES[ls]=${l.C}\nls` },
    { name: 'hash -p pointing an allowed name at the canary', line: `hash -p ${l.P} ls; ls` },
    { name: 'trap on EXIT', line: `trap '${l.C}' EXIT` },
    { name: 'trap on DEBUG', line: `trap '${l.C}' DEBUG; true` },
    { name: 'PS4 with set -x', line: `PS4='$(${l.C})'; set -x; true` },
    { name: 'prompt expansion ${x@P}', line: `x='$(${l.C})'; : "\${x@P}"` },
    { name: 'arithmetic on a variable holding a subscript', line: `x='a[$(${l.C})]'; echo $((x))` },
    { name: 'test -v with a subscript', line: `test -v 'a[$(${l.C})]'` },
    { name: 'read into a subscripted name', line: `read 'a[$(${l.C})]' <<< x` },
    { name: 'printf -v into a subscripted name', line: `printf -v 'a[$(${l.C})]' x` },
    { name: 'let with a subscript', line: `let 'a[$(${l.C})]=1'` },
    { name: 'declare -i, then an assignment holding a subscript', line: `declare -i x; x='a[$(${l.C})]'` },
    { name: 'local -i evaluating a variable holding a subscript', line: `x='a[$(${l.C})]'; f() { local -i y=x; }; f` },
    { name: 'mapfile callback', line: `mapfile -t -C '${l.C} #' -c 1 <<< x` },
    { name: 'coproc', line: `coproc ${l.C}; wait` },
    { name: 'exec', line: `exec ${l.C}` },
    { name: 'exec -a naming it like an allowed program', line: `exec -a ls ${l.C}` },
    { name: 'command', line: `command ${l.C}` },
    { name: 'time keyword', line: `time ${l.C}` },
    { name: 'negation !', line: `! ${l.C}` },
    { name: 'group { ...; }', line: `{ ${l.C}; }` },
    { name: 'subshell ( ... )', line: `( ${l.C} )` },
    { name: 'if/then', line: `if true; then ${l.C}; fi` },
    { name: 'for loop body', line: `for i in 1; do ${l.C}; done` },
    { name: 'while condition', line: `while ${l.C}; do break; done` },
    { name: 'case branch', line: `case x in x) ${l.C};; esac` },
    { name: 'redirection before the command', line: `2>/dev/null ${l.C}` },
    { name: 'background job', line: `${l.C} & wait` },
    { name: 'second line of the command', line: `true\n${l.C}` },
    { name: '[[ ]] with a substitution', line: `[[ -n $(${l.C}) ]]` },
    // Code fed to a shell or read from a file.
    { name: 'base64 decoded into sh', line: `echo ${l.b64} | base64 -d | sh` },
    { name: 'base64 decoded into bash', line: `echo ${l.b64} | base64 -d | bash` },
    { name: 'echo piped into sh', line: `echo ${l.C} | sh` },
    { name: 'printf piped into bash -s', line: `printf '%s\\n' ${l.C} | bash -s` },
    { name: 'piped into bash /dev/stdin', line: `echo ${l.C} | bash /dev/stdin` },
    { name: 'here-string into bash /dev/fd/0', line: `bash /dev/fd/0 <<< ${l.C}` },
    { name: 'piped into python3 /dev/stdin', line: `echo 'import os; os.system("${l.C}")' | python3 /dev/stdin` },
    { name: 'here-string into bash', line: `bash <<< '${l.C}'` },
    { name: 'here-string of a split name', line: `bash <<< "warden-can""ary-${l.hex}"` },
    { name: 'here-doc into sh', line: `sh <<EOF\n${l.C}\nEOF` },
    { name: 'quoted here-doc into bash', line: `bash <<'X'\n${l.C}\nX` },
    { name: 'process substitution as a bash script', line: `bash <(echo ${l.C})` },
    { name: 'sh reading a written file on stdin', line: `echo ${l.C} > ${l.w('in')}; sh < ${l.w('in')}` },
    { name: 'script written, run with sh', line: `echo ${l.C} > ${l.w('x.sh')}; sh ${l.w('x.sh')}` },
    { name: 'script written, chmod +x, run', line: `echo ${l.C} > ${l.w('x')}; chmod +x ${l.w('x')}; ${l.w('x')}` },
    {
      name: 'script with a shebang written by printf, run',
      line: `printf '#!/bin/sh\\n${l.C}\\n' > ${l.w('y')}; chmod 755 ${l.w('y')}; ${l.w('y')}`,
    },
    {
      name: 'script written by tee, run with bash',
      line: `echo ${l.C} | tee ${l.w('t.sh')} > /dev/null; bash ${l.w('t.sh')}`,
    },
    {
      name: 'script written by sed w, run with sh',
      line: `echo ${l.C} | sed -n 'w ${l.w('s2.sh')}'; sh ${l.w('s2.sh')}`,
    },
    { name: 'existing script run with sh', line: `sh ${l.prep}/payload.sh` },
    { name: 'existing script run with bash', line: `bash ${l.prep}/payload.sh` },
    { name: 'existing python script', line: `python3 ${l.prep}/payload.py` },
    {
      name: 'python3 -m unittest discover importing an existing file',
      line: `python3 -m unittest discover -s ${l.prep} -p 'payload*.py'`,
    },
    { name: 'awk -f with an existing program file', line: `awk -f ${l.prep}/prog.awk` },
    { name: 'sed -f with an existing script holding e', line: `sed -f ${l.prep}/prog.sed /etc/hostname` },
    {
      name: 'BASH_ENV naming a written file',
      line: `echo ${l.C} > ${l.w('e.sh')}; BASH_ENV=${l.w('e.sh')} bash -c true`,
    },
    { name: 'BASH_ENV naming an existing script', line: `BASH_ENV=${l.prep}/payload.sh bash -c :` },
    { name: 'cp of the canary to a temp path, run', line: `cp ${l.P} ${l.w('y')}; ${l.w('y')}` },
    { name: 'cp of the canary under an allowed name in a temp dir', line: `cp ${l.P} ${l.w('ls')}; ${l.w('ls')}` },
    {
      name: 'cp of the canary into /usr/local/bin under an allowed name',
      line: `cp ${l.P} ${l.reportPath}; ${l.report}`,
    },
    {
      name: 'cat > into /usr/local/bin under an allowed name, chmod, run',
      line: `cat ${l.P} > ${l.reportPath}; chmod +x ${l.reportPath}; ${l.report}`,
    },
    {
      name: 'mv of a copy under an allowed name',
      line: `cp ${l.P} ${l.w('m')}; mv ${l.w('m')} ${l.reportPath}; ${l.report}`,
    },
    { name: 'ln -s to the canary, run', line: `ln -s ${l.P} ${l.w('z')}; ${l.w('z')}` },
    {
      name: 'awk writing a copy under an allowed name into /usr/local/bin, run by name',
      line: `awk '{ print > "${l.reportPath}" }' ${l.P}; chmod +x ${l.reportPath}; ${l.report}`,
    },
    {
      name: 'tar extracting an allowed name into /usr/local/bin, run by name',
      line: `tar -xf ${l.prep}/report.tar -C /usr/local/bin; ${l.report}`,
    },
    {
      name: 'sort -o writing a copy under an allowed name, run by name',
      line: `sort -o ${l.reportPath} ${l.P}; chmod +x ${l.reportPath}; ${l.report}`,
    },
    {
      name: 'uniq writing a copy under an allowed name, run by name',
      line: `uniq ${l.P} ${l.reportPath}; chmod +x ${l.reportPath}; ${l.report}`,
    },
    {
      name: 'cp -r of a directory into /usr/local/bin, run by an allowed name',
      line: `cp -r ${l.prep}/reportdir/. /usr/local/bin; ${l.report}`,
    },
    {
      name: 'find -exec cp into /usr/local/bin, run by an allowed name',
      line: `find ${l.prep}/reportdir -name ${l.report} -exec cp {} /usr/local/bin \\; ; ${l.report}`,
    },
    {
      name: 'xargs -I{} cp into /usr/local/bin, run by an allowed name',
      line: `echo ${l.prep}/reportdir/${l.report} | xargs -I{} cp {} /usr/local/bin; ${l.report}`,
    },
    {
      name: 'tar piped into tar -x -C /usr/local/bin, run by an allowed name',
      line: `tar -cf - -C ${l.prep}/reportdir ${l.report} | tar -xf - -C /usr/local/bin; ${l.report}`,
    },
    {
      name: 'split writing a copy, run by path',
      line: `split -n 1 ${l.P} ${l.w('s_')}; chmod +x ${l.w('s_aa')}; ${l.w('s_aa')}`,
    },
    // PATH and friends.
    { name: 'PATH prefix with a copy named x', line: `PATH=${l.prep}/bin:$PATH x` },
    { name: 'exported PATH with a copy named x', line: `export PATH=${l.prep}/bin:$PATH; x` },
    { name: 'PATH prefix shadowing an allowed program', line: `PATH=${l.prep}/bin:$PATH ls` },
    { name: 'enable -n echo, then echo from PATH', line: `enable -n echo; PATH=${l.prep}/bin:$PATH; echo` },
    // Program runners.
    { name: 'find -exec', line: `find / -maxdepth 0 -exec ${l.C} \\;` },
    { name: 'find -execdir', line: `find / -maxdepth 0 -execdir ${l.C} \\;` },
    { name: 'find -exec sh -c', line: `find / -maxdepth 0 -exec sh -c '${l.C}' \\;` },
    {
      name: 'find -exec {} running what it found',
      line: `find /usr/local/bin -name 'warden-canary-${l.hex}' -exec {} \\;`,
    },
    { name: 'xargs sh -c', line: `echo ${l.C} | xargs sh -c` },
    { name: 'xargs canary', line: `echo x | xargs ${l.C}` },
    { name: 'xargs -I{} feeding env the name', line: `echo ${l.C} | xargs -I{} env {}` },
    { name: 'env', line: `env ${l.C}` },
    { name: 'env -i with the full path', line: `env -i ${l.P}` },
    { name: 'env -S', line: `env -S '${l.C} arg'` },
    { name: 'sudo (absent here: must not run anyway)', line: `sudo ${l.C}`, live: existsSync('/usr/bin/sudo') },
    { name: 'sudo -u root', line: `sudo -u root ${l.C}`, live: existsSync('/usr/bin/sudo') },
    { name: 'timeout', line: `timeout 5 ${l.C}` },
    { name: 'timeout -s KILL', line: `timeout -s KILL 5 ${l.C}` },
    { name: 'nice', line: `nice ${l.C}` },
    { name: 'nice -n 5', line: `nice -n 5 ${l.C}` },
    { name: 'nohup', line: `nohup ${l.C}` },
    { name: 'stdbuf', line: `stdbuf -o0 ${l.C}` },
    { name: 'setsid -w', line: `setsid -w ${l.C}` },
    { name: 'flock', line: `flock ${l.w('lock')} ${l.C}` },
    { name: 'script -c', line: `script -qc ${l.C} /dev/null` },
    { name: 'taskset', line: `taskset -c 0 ${l.C}` },
    { name: 'chroot /', line: `chroot / ${l.C}` },
    { name: 'ionice', line: `ionice -c3 ${l.C}` },
    { name: 'strace', line: `strace -f -o /dev/null ${l.C}`, live: existsSync('/usr/bin/strace') },
    { name: '/proc/self/exe as a shell', line: `/proc/self/exe -c ${l.C}` },
    { name: 'run-parts', line: `run-parts --regex '^${l.C}$' /usr/local/bin` },
    { name: 'prlimit', line: `prlimit --nofile=1024 ${l.C}` },
    { name: 'choom', line: `choom -n 0 -- ${l.C}` },
    { name: 'the dynamic loader running sh', line: `${LDSO} /bin/sh -c ${l.C}`, live: existsSync(LDSO) },
    { name: 'python3 -c os.system', line: `python3 -c 'import os; os.system("${l.C}")'` },
    { name: 'python3 -c with a split name', line: `python3 -c 'import os; os.system("warden-can" + "ary-${l.hex}")'` },
    { name: 'python3 reading code on stdin', line: `echo 'import os; os.system("${l.C}")' | python3` },
    { name: 'perl -e system', line: `perl -e 'system "${l.C}"'` },
    { name: 'perl reading code on stdin', line: `echo 'system "${l.C}"' | perl` },
    { name: 'node -e execSync', line: `node -e 'require("child_process").execSync("${l.C}")'` },
    { name: 'awk system()', line: `awk 'BEGIN{system("${l.C}")}'` },
    { name: 'awk print to a pipe', line: `awk 'BEGIN{print "x" | "${l.C}"}'` },
    { name: 'awk getline from a command', line: `awk 'BEGIN{"${l.C}" | getline}'` },
    { name: 'sed e', line: `echo ${l.C} | sed e` },
    { name: 'sed s///e', line: `echo x | sed 's/x/${l.C}/e'` },
    { name: 'sort --compress-program', line: `sort -S 100k --compress-program=${l.C} /usr/bin/bash > /dev/null` },
    {
      name: 'tar --checkpoint-action=exec',
      line: `tar -cf /dev/null /etc/hostname --checkpoint=1 --checkpoint-action=exec=${l.C}`,
    },
    { name: 'tar -I (compress program)', line: `tar -I ${l.C} -cf ${l.w('a.tar')} /etc/hostname` },
    // Shells with a -c string.
    { name: 'bash -c "$(printf canary)"', line: `bash -c "$(printf ${l.C})"` },
    { name: 'bash -c with a static string', line: `bash -c '${l.C}'` },
    { name: 'nested sh -c in bash -c', line: `bash -c "sh -c '${l.C}'"` },
    { name: 'sh -c running $0', line: `sh -c '"$0"' ${l.C}` },
    { name: 'bash -c running $1', line: `bash -c '$1' x ${l.C}` },
    // Obfuscation of a plain call (regressions: deny mode caught these before issue 23).
    { name: 'empty quotes inside the name', line: `warden-can''ary-${l.hex}` },
    { name: 'backslash inside the name', line: `w\\arden-canary-${l.hex}` },
    { name: 'double-quoted name', line: `"warden-canary-${l.hex}"` },
    { name: '$"..." quoting', line: `$"${l.C}"` },
    { name: 'full path', line: l.P },
    { name: 'plain name', line: l.C },
    // A renamed copy run by a static path: a deny list cannot know it; the allow-list must refuse it.
    { name: 'renamed copy at a temp path', line: `${l.prep}/canary-copy`, modes: ['allow'] },
    { name: 'renamed copy run relative to cd', line: `cd ${l.prep}/bin && ./x`, modes: ['allow'] },
  ];
}

const NAMES = bypasses(LANES[0]!).map((b) => b.name);
const bypassIn = (l: Lane, name: string) => bypasses(l).find((b) => b.name === name)!;

describe('every bypass line runs the canary when nothing guards the connection', () => {
  const live = NAMES.filter((name) => bypassIn(LANES[0]!, name).live !== false);
  let results: Map<string, Run>;
  beforeAll(async () => {
    results = await runAll(
      live.map((name) => ({ key: name, run: (l) => runLine(l, 'cg-open', bypassIn(l, name).line) })),
    );
  }, 120_000);

  it.each(live)('%s', (name) => {
    const res = results.get(name)!;
    expect(res.ran, `the line did not run the canary: ${JSON.stringify(res)}`).not.toBe('');
  });
});

const BENIGN: [line: string, expected: string | RegExp][] = [
  ['ls / | grep -c usr', '1\n'],
  [`echo 'a b' "c d"`, 'a b c d\n'],
  ['ls /etc/host*', /^\/etc\/hostname$/m],
  ['ls -d /usr/*bin | sort', '/usr/bin\n/usr/sbin\n'],
  ['true && echo yes || echo no; echo after', 'yes\nafter\n'],
  ['false || echo recovered', 'recovered\n'],
  ['cd /tmp && pwd', '/tmp\n'],
  ['find /etc -maxdepth 1 -name hostname', '/etc/hostname\n'],
  ['find /etc -maxdepth 1 -name hostname -exec wc -l {} \\;', '1 /etc/hostname\n'],
  [`bash -c 'echo hi'`, 'hi\n'],
  [`sh -c 'ls /etc/hostname | wc -l'`, '1\n'],
  ['echo /etc/hostname | xargs wc -l', '1 /etc/hostname\n'],
  [`printf 'b\\na\\n' | env LC_ALL=C sort`, 'a\nb\n'],
  ['timeout 5 ls /etc/hostname', '/etc/hostname\n'],
  ['nice -n 5 ls /etc/hostname', '/etc/hostname\n'],
  [`awk 'BEGIN { print 6 * 7 }'`, '42\n'],
  ['echo abc | sed s/b/X/', 'aXc\n'],
  ['x=5; echo "$x" $((x * 2))', '5 10\n'],
  ['echo "lines: $(cat /etc/hostname | wc -l)"', 'lines: 1\n'],
  ['/usr/bin/ls /etc/hostname', '/etc/hostname\n'],
  ['cat /etc/hostname > /dev/null && echo written', 'written\n'],
  ['for f in /etc/hostname; do wc -l "$f"; done', '1 /etc/hostname\n'],
  ['if test -e /etc/hostname; then echo present; fi', 'present\n'],
  ['[ -d /tmp ] && echo dir', 'dir\n'],
  ['export LC_ALL=C; ls /etc/hostname 2>/dev/null', '/etc/hostname\n'],
];

describe('guarded connections', () => {
  let refused: Map<string, Run>;
  let benign: Map<string, Run>;
  const modes = [
    ['allow', 'cg-allow', ALLOW_RULE],
    ['deny', 'cg-deny', DENY_RULE],
  ] as const;

  beforeAll(async () => {
    expect((await dp.api.request('POST', '/api/groups', { body: { name: 'sre' } })).status).toBe(201);
    for (const policy of [
      {
        name: 'ops-allow',
        kind: 'guardrail',
        rules: { guardrails: [{ type: 'allow_commands', name: ALLOW_RULE, commands: ALLOWED }] },
      },
      {
        name: 'canary-deny',
        kind: 'guardrail',
        // Each lane's canary; a lane's lines name only its own.
        rules: { guardrails: [{ type: 'deny_commands', name: DENY_RULE, commands: LANES.map((l) => l.C) }] },
      },
      {
        name: 'dynamic-review',
        kind: 'review',
        rules: {
          reviews: [
            {
              type: 'require_command_review',
              name: 'hold-dynamic',
              match: { dynamic: true },
              approverGroups: ['sre'],
              timeoutSeconds: 30,
            },
          ],
        },
      },
    ]) {
      const created = await dp.api.request('POST', '/api/policies', { body: policy });
      expect(created.status, created.text).toBe(201);
    }
    for (const [connection, policies] of [
      ['cg-allow', ['ops-allow']],
      ['cg-deny', ['canary-deny']],
      ['cg-review', ['canary-deny', 'dynamic-review']],
    ] as const) {
      const attached = await dp.api.request('PATCH', `/api/connections/${connection}`, { body: { policies } });
      expect(attached.status, attached.text).toBe(200);
    }
    // Each run builds its line for the lane it runs in (its own canary, marker and scratch).
    refused = await runAll(
      NAMES.flatMap((name) =>
        modes.map(([mode, connection]) => ({
          key: `${mode} ${name}`,
          run: (l: Lane) => runLine(l, connection, bypassIn(l, name).line),
        })),
      ),
    );
    benign = await runAll(
      BENIGN.flatMap(([line]) =>
        modes.map(([mode, connection]) => ({
          key: `${mode} ${line}`,
          run: (l: Lane) => runLine(l, connection, line, 'openssh'),
        })),
      ),
    );
  }, 240_000);

  describe.each(modes)('with the %s rule, the connection refuses', (mode, _connection, rule) => {
    it.each(NAMES.filter((name) => (bypassIn(LANES[0]!, name).modes ?? ['allow', 'deny']).includes(mode)))(
      '%s',
      (name) => {
        const res = refused.get(`${mode} ${name}`)!;
        expect.soft(res.ran, `the canary ran: ${JSON.stringify(res.line)}`).toBe('');
        expect.soft(res.code, JSON.stringify(res)).toBe(126);
        expect.soft(res.stdout).toBe('');
        expect.soft(res.stderr).toContain('Warden: ');
        expect.soft(res.stderr).toContain(`rule "${rule}"`);
      },
    );
  });

  describe.each(modes)('with the %s rule, the connection still runs', (mode) => {
    it.each(BENIGN)('%s', (line, expected) => {
      const res = benign.get(`${mode} ${line}`)!;
      // The target user's own shell start-up may print (pyenv, motd scripts): only Warden must be silent.
      expect(res.stderr, JSON.stringify(res)).not.toContain('Warden');
      if (typeof expected === 'string') expect(res.stdout).toBe(expected);
      else expect(res.stdout).toMatch(expected);
      expect(res.code).toBe(0);
      expect(res.ran).toBe('');
    });
  });

  describe('the refusal names the program', () => {
    const l = LANES[0]!;
    it.each([
      ['the canary by name', () => l.C, l.C],
      ['id (not listed)', () => 'id -u', 'id'],
      ['the canary by full path', () => l.P, l.C],
      ['a copy at a temp path', () => `${l.prep}/canary-copy`, 'canary-copy'],
      ['a listed program next to an unlisted one', () => 'ls / && id -u', 'id'],
    ])('allow-list: %s', async (_name, line, program) => {
      const res = await runLine(l, 'cg-allow', line(), 'openssh');
      expect(res.ran).toBe('');
      expect(res.code).toBe(126);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain(`Warden: `);
      expect(res.stderr).toContain(`rule "${ALLOW_RULE}"`);
      expect(res.stderr).toContain(program);
      expect(res.stderr).toMatch(/allow.?list|not (listed|allowed)/i);
    });

    it('deny list: the denied canary', async () => {
      const res = await runLine(l, 'cg-deny', `ls / >/dev/null; ${l.C} --now`, 'openssh');
      expect(res.ran).toBe('');
      expect(res.code).toBe(126);
      expect(res.stderr).toContain(`Warden: command refused by rule "${DENY_RULE}"`);
      expect(res.stderr).toContain(l.C);
    });
  });

  describe('a require_command_review rule with match: { dynamic: true }', () => {
    async function pendingReview(command: string) {
      for (let i = 0; i < 200; i++) {
        const review = await dp.api.db.prisma.review.findFirst({ where: { statement: command, status: 'pending' } });
        if (review) return review;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no pending review for ${command}`);
    }

    it('holds a dynamic line instead of refusing it: approved, it runs; denied, nothing runs', async () => {
      const l = LANES[0]!;
      const approver = await createIdentity(dp.api, 'rita', { role: 'user', groups: ['sre'] });
      const benignLine = 'c=echo; $c held-$((40+2))';
      const running = runLine(l, 'cg-review', benignLine);
      const review = await pendingReview(benignLine);
      const approved = await dp.api.request('POST', `/api/reviews/${review.id}/approve`, {
        token: approver.token,
        body: { comment: 'fine' },
      });
      expect(approved.status, approved.text).toBe(200);
      const res = await running;
      expect(res.stdout).toBe('held-42\n');
      expect(res.code).toBe(0);

      const evil = `c=${l.C}; $c`;
      const held = runLine(l, 'cg-review', evil);
      const second = await pendingReview(evil);
      expect(await readFile(l.marker, 'utf8').catch(() => '')).toBe('');
      const denied = await dp.api.request('POST', `/api/reviews/${second.id}/deny`, {
        token: approver.token,
        body: { comment: 'no' },
      });
      expect(denied.status, denied.text).toBe(200);
      const refusedRun = await held;
      expect(refusedRun.code).toBe(126);
      expect(refusedRun.ran).toBe('');
      expect(refusedRun.stderr).toContain(`review ${second.id} was denied`);
    });

    it('still refuses a statically denied program on that connection', async () => {
      const l = LANES[0]!;
      const res = await runLine(l, 'cg-review', l.C);
      expect(res.code).toBe(126);
      expect(res.ran).toBe('');
      expect(res.stderr).toContain(`rule "${DENY_RULE}"`);
    });
  });
});
