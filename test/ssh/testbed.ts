import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { expect } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { sshClient, type SshClient } from './ssh-client.js';
import { keygen, startTargetSshd, type TargetSshd } from './target-sshd.js';

export interface SshTestbed {
  target: TargetSshd;
  dp: DataPath;
  ssh: SshClient;
  /** Private key file registered (POST /api/ssh-keys) to the admin identity. */
  key: string;
}

/**
 * A real OpenSSH target, the real gateway and agent, and one ssh connection to the target per
 * entry of `connections` (name → its options.ssh), no policies; the admin logs in with a key.
 */
export async function startSshTestbed(connections: Record<string, Record<string, boolean>>): Promise<SshTestbed> {
  const target = await startTargetSshd();
  const dp = await startDataPath({ policies: [], redisPrefix: `warden-test-${randomBytes(4).toString('hex')}` });
  const ssh = await sshClient(dp.sshPort);
  for (const [name, options] of Object.entries(connections)) {
    const created = await dp.api.request('POST', '/api/connections', {
      body: {
        name,
        type: 'ssh',
        agent: 'edge',
        config: {
          host: '127.0.0.1',
          port: target.port,
          user: target.user,
          privateKey: target.privateKey,
          knownHosts: target.knownHostsLine,
        },
        options: { ssh: options },
        policies: [],
      },
    });
    expect(created.status, created.text).toBe(201);
  }
  const key = path.join(ssh.dir, 'admin_key');
  const { publicKey } = await keygen(key, 'admin@ci');
  expect((await dp.api.request('POST', '/api/ssh-keys', { body: { name: 'ci', publicKey } })).status).toBe(201);
  return { target, dp, ssh, key };
}
