import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { run } from '../support/data-path.js';
import { freePort } from '../support/ports.js';

/**
 * A real OpenSSH server on a loopback port as the SSH target: its own host key and
 * one authorized client key (what the Warden connection logs in with), in a temp
 * directory. Runs as the current user (root in CI: PermitRootLogin prohibit-password).
 */
export interface TargetSshd {
  port: number;
  user: string;
  dir: string;
  /** The client private key the connection holds (OpenSSH PEM). */
  privateKey: string;
  /** `SHA256:...` of the server's host key. */
  hostKeyFingerprint: string;
  /** A known_hosts line for the server. */
  knownHostsLine: string;
  output(): string;
  stop(): Promise<void>;
}

export async function keygen(
  file: string,
  comment = 'warden-test',
): Promise<{ privateKey: string; publicKey: string }> {
  const res = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  if (res.code !== 0) throw new Error(`ssh-keygen: ${res.stderr}`);
  return { privateKey: await readFile(file, 'utf8'), publicKey: (await readFile(`${file}.pub`, 'utf8')).trim() };
}

export async function fingerprintOf(publicKeyFile: string): Promise<string> {
  const res = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicKeyFile]);
  const match = /SHA256:[A-Za-z0-9+/]+/.exec(res.stdout);
  if (!match) throw new Error(`ssh-keygen -l: ${res.stdout}${res.stderr}`);
  return match[0];
}

export async function startTargetSshd(): Promise<TargetSshd> {
  const dir = await mkdtemp(path.join(tmpdir(), 'warden-sshd-'));
  // sshd wants its privilege-separation directory.
  mkdirSync('/run/sshd', { recursive: true });
  await keygen(path.join(dir, 'host_key'), 'target-host');
  const client = await keygen(path.join(dir, 'client_key'), 'warden-connection');
  await writeFile(path.join(dir, 'authorized_keys'), client.publicKey + '\n', { mode: 0o600 });
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${path.join(dir, 'host_key')}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PrintMotd no',
    'PrintLastLog no',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
  ].join('\n');
  await writeFile(path.join(dir, 'sshd_config'), config + '\n');
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start:\n${output}`)), 15_000);
    const check = () => {
      if (/Server listening/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with ${code}:\n${output}`));
    });
  });
  const hostPublic = (await readFile(path.join(dir, 'host_key.pub'), 'utf8')).trim().split(/\s+/);
  return {
    port,
    user: userInfo().username,
    dir,
    privateKey: client.privateKey,
    hostKeyFingerprint: await fingerprintOf(path.join(dir, 'host_key.pub')),
    knownHostsLine: `[127.0.0.1]:${port} ${hostPublic[0]} ${hostPublic[1]}`,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
