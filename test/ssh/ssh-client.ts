import { spawn } from 'node:child_process';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CommandResult } from '../support/data-path.js';

/**
 * The real OpenSSH client against the gateway. The token goes in as the password
 * through SSH_ASKPASS (forced, so no terminal is needed); a key logs in with -i.
 * Host keys: accept-new into a per-client known_hosts file.
 */
export interface SshClient {
  dir: string;
  knownHosts: string;
  /** Everything every run printed (stdout and stderr), for leak checks. */
  outputs: string[];
  /** `sftp -b -` with a registered key (sftp's batch mode allows no password prompt). */
  sftp(user: string, batch: string, key: string): Promise<CommandResult>;
  run(
    user: string,
    args: string[],
    options?: {
      token?: string;
      key?: string;
      input?: string;
      tty?: boolean;
      timeoutMs?: number;
      /** The token answers a keyboard-interactive prompt instead of the password request. */
      keyboardInteractive?: boolean;
    },
  ): Promise<CommandResult>;
}

export async function sshClient(port: number): Promise<SshClient> {
  const dir = await mkdtemp(path.join(tmpdir(), 'warden-ssh-client-'));
  const askpass = path.join(dir, 'askpass.sh');
  await writeFile(askpass, '#!/bin/sh\nprintf "%s\\n" "$WARDEN_TEST_TOKEN"\n');
  await chmod(askpass, 0o700);
  const knownHosts = path.join(dir, 'known_hosts');
  const outputs: string[] = [];
  return {
    dir,
    knownHosts,
    outputs,
    sftp(user, batch, key) {
      return spawnCollect(
        'sftp',
        [
          '-F',
          '/dev/null',
          '-P',
          String(port),
          '-o',
          'StrictHostKeyChecking=accept-new',
          '-o',
          `UserKnownHostsFile=${knownHosts}`,
          '-o',
          'LogLevel=ERROR',
          '-i',
          key,
          '-o',
          'IdentitiesOnly=yes',
          '-b',
          '-',
          `${user}@127.0.0.1`,
        ],
        { PATH: process.env.PATH, HOME: dir },
        batch,
        60_000,
        outputs,
      );
    },
    run(user, args, options = {}) {
      const auth = options.key
        ? ['-i', options.key, '-o', 'IdentitiesOnly=yes', '-o', 'PreferredAuthentications=publickey']
        : [
            '-o',
            'PubkeyAuthentication=no',
            '-o',
            `PreferredAuthentications=${options.keyboardInteractive ? 'keyboard-interactive' : 'password'}`,
            '-o',
            'NumberOfPasswordPrompts=1',
          ];
      const argv = [
        '-F',
        '/dev/null',
        '-p',
        String(port),
        '-o',
        'StrictHostKeyChecking=accept-new',
        '-o',
        `UserKnownHostsFile=${knownHosts}`,
        '-o',
        'LogLevel=ERROR',
        '-o',
        'ConnectTimeout=20',
        ...auth,
        ...(options.tty ? ['-tt'] : ['-T']),
        `${user}@127.0.0.1`,
        ...args,
      ];
      return new Promise((resolve, reject) => {
        const child = spawn('ssh', argv, {
          env: {
            PATH: process.env.PATH,
            HOME: dir,
            SSH_ASKPASS: askpass,
            SSH_ASKPASS_REQUIRE: 'force',
            DISPLAY: ':0',
            WARDEN_TEST_TOKEN: options.token ?? '',
          },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          outputs.push(stdout, stderr);
          resolve({ code, stdout, stderr });
        });
        child.stdin.on('error', () => {});
        child.stdin.end(options.input ?? '');
      });
    },
  };
}

function spawnCollect(
  command: string,
  argv: string[],
  env: Record<string, string | undefined>,
  input: string,
  timeoutMs: number,
  outputs: string[],
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}
