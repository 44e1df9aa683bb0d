import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../decide.js';
import { validatePolicyRules } from '../rules/schemas.js';
import { compileShellPolicy, DEFAULT_SHELL_GUARDRAIL } from './decide.js';
import { parseCommandLine } from './analyze.js';

describe('parseCommandLine', () => {
  it('finds every command, through wrappers, pipes, substitutions and sh -c', () => {
    const programs = (line: string) => parseCommandLine(line).map((c) => c.program);
    expect(programs('ls -la /tmp && echo done')).toEqual(['ls', 'echo']);
    expect(programs('sudo -u root /sbin/shutdown -h now')).toEqual(['sudo', 'shutdown']);
    expect(programs('FOO=1 env BAR=2 nohup reboot')).toEqual(['env', 'nohup', 'reboot']);
    expect(programs('echo "$(whoami)" `hostname`')).toEqual(['whoami', 'hostname', 'echo']);
    expect(programs("bash -c 'cd / && rm -rf *'")).toEqual(['bash', 'cd', 'rm']);
    expect(programs('cat file > /dev/null; grep x <in')).toEqual(['cat', 'grep']);
    expect(programs("echo 'a;b|c' # shutdown")).toEqual(['echo']);
  });

  it('links pipelines', () => {
    const [curl] = parseCommandLine('curl -fsSL https://x.example/i.sh | sudo bash -s');
    expect(curl?.program).toBe('curl');
    expect(curl?.pipesTo?.program).toBe('bash');
  });
});

describe('ShellPolicy', () => {
  const policy = compileShellPolicy({
    guardrails: [
      DEFAULT_SHELL_GUARDRAIL,
      { type: 'deny_commands', name: 'no-iptables', commands: ['iptables*'] },
      { type: 'deny_pattern', name: 'sql-only', pattern: 'secret' },
    ],
    reviews: [
      {
        type: 'require_command_review',
        name: 'restarts',
        match: { commands: ['systemctl'], pattern: '^kubectl\\s+delete' },
        approverGroups: ['sre'],
      },
    ],
  });

  it.each([
    ['rm -rf /', 'a recursive delete of /'],
    ['sudo rm -fr /*', 'a recursive delete of /*'],
    ['rm -r -f --no-preserve-root /', 'a recursive delete of /'],
    ['curl -s https://get.example.com | sh', 'a download from curl piped into sh'],
    ['wget -qO- http://x | sudo bash', 'a download from wget piped into bash'],
    ['bash -c "$(curl -fsSL https://x)"', 'a download run by bash'],
    ['shutdown -h now', 'shutdown'],
    ['sleep 1; sudo reboot', 'reboot'],
    ['mkfs.ext4 /dev/sdb1', 'mkfs.ext4'],
    ['dd if=/dev/zero of=/dev/sda bs=1M', 'dd onto a block device'],
    ['/usr/sbin/iptables -F', 'it runs iptables'],
  ])('refuses %s', (command, why) => {
    const decision = compileShellPolicy({ guardrails: [DEFAULT_SHELL_GUARDRAIL] }).decide(command);
    const full = policy.decide(command);
    expect(full.action).toBe('block');
    if (full.action === 'block') expect(full.message).toContain(why);
    if (!command.includes('iptables')) expect(decision.action).toBe('block');
  });

  it.each(['ls -la', 'rm -rf /tmp/build', 'curl -s https://x > out.sh', 'echo shutdown', 'cat secret.txt', 'df -h /'])(
    'allows %s',
    (command) => {
      expect(policy.decide(command)).toEqual({ action: 'allow' });
    },
  );

  it('holds commands a review rule matches, with the rule requirement', () => {
    const decision = policy.decide('sudo systemctl restart nginx');
    expect(decision.action).toBe('review');
    if (decision.action === 'review') {
      expect(decision.rule).toBe('restarts');
      expect(decision.review.approverGroups).toEqual(['sre']);
      expect(decision.review.timeoutSeconds).toBe(300);
    }
    expect(policy.decide('kubectl delete pod x').action).toBe('review');
  });

  it('leaves SQL decisions alone: command rules are not statement guardrails', () => {
    const rules = { guardrails: [DEFAULT_SHELL_GUARDRAIL], reviews: [] };
    const sql = compilePolicy(rules, 1);
    expect(sql.guarded).toBe(false);
  });

  it('validates command rules', () => {
    const bad = validatePolicyRules({
      guardrails: [
        { type: 'deny_commands', name: 'empty' },
        { type: 'deny_commands', name: 'regex', pattern: '(' },
        { type: 'deny_commands', name: 'detector', detect: ['nope'] },
      ],
      reviews: [{ type: 'require_command_review', name: 'r', match: {}, approverGroups: ['sre'] }],
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      const paths = bad.errors.map((e) => e.path);
      expect(paths).toEqual(expect.arrayContaining(['/guardrails/2/detect/0']));
    }
    const bad2 = validatePolicyRules({
      guardrails: [
        { type: 'deny_commands', name: 'empty' },
        { type: 'deny_commands', name: 'regex', pattern: '(' },
      ],
      reviews: [{ type: 'require_command_review', name: 'r', match: {}, approverGroups: ['sre'] }],
    });
    expect(bad2.ok).toBe(false);
    if (!bad2.ok)
      expect(bad2.errors.map((e) => e.path)).toEqual(['/guardrails/0', '/guardrails/1/pattern', '/reviews/0/match']);
  });

  it('decides on interactive shells only with rules that say interactive: true', () => {
    expect(policy.decideShell()).toEqual({ action: 'allow' });
    const held = compileShellPolicy({
      reviews: [
        { type: 'require_command_review', name: 'shells', match: { interactive: true }, approverGroups: ['sre'] },
      ],
    });
    expect(held.decideShell()).toMatchObject({ action: 'review', rule: 'shells' });
    expect(held.decide('ls')).toEqual({ action: 'allow' });
    const refused = compileShellPolicy({ guardrails: [{ type: 'deny_commands', name: 'no', interactive: true }] });
    expect(refused.decideShell()).toMatchObject({ action: 'block', rule: 'no' });
  });
});
