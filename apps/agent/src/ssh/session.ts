import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import { encodeSshFrame, SshFrameDecoder, SshFrameType, type SshExit, type SshSessionOpen } from '@warden/proto';
import type { TunnelStream } from '@warden/tunnel';
import { CredentialError, resolveSecret } from '../credentials.js';
import { checkHostKey } from './host-key.js';

const CONNECT_TIMEOUT_MS = 20_000;

/** A failure to open the target; the message reaches the client, so it never names host, user or secret. */
class SshOpenError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * Serves one SSH session channel for the gateway: logs in to the target with the
 * credentials resolved here (they never cross back), verifies the target's host key
 * against the connection's pin, runs the shell, command or subsystem (or opens the
 * forwarded TCP connection of an `ssh -L` from the target), and relays the
 * channel as frames (packages/proto ssh-channel.ts) in both directions with
 * backpressure: a full tunnel window pauses the target channel and vice versa.
 */
export async function serveSshSession(open: SshSessionOpen, stream: TunnelStream): Promise<void> {
  const { target } = open;
  let auth: Pick<ConnectConfig, 'password' | 'privateKey' | 'passphrase'>;
  try {
    const [password, privateKey, passphrase] = await Promise.all([
      resolveSecret(target.password),
      resolveSecret(target.privateKey),
      resolveSecret(target.passphrase),
    ]);
    if (!password && !privateKey)
      throw new SshOpenError('the connection has no password or privateKey', 'NO_CREDENTIALS');
    auth = {
      ...(password ? { password } : {}),
      ...(privateKey ? { privateKey } : {}),
      ...(passphrase ? { passphrase } : {}),
    };
  } catch (error) {
    if (error instanceof CredentialError) throw new SshOpenError(error.message, 'CREDENTIALS');
    throw error;
  }

  const client = new ssh2.Client();
  let hostKeyRefusal: string | undefined;
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', (err: Error & { level?: string }) => {
      if (hostKeyRefusal) reject(new SshOpenError(`${hostKeyRefusal}; refusing (fail closed)`, 'HOST_KEY'));
      else if (err.level === 'client-authentication')
        reject(new SshOpenError('the target refused the credentials of the connection', 'TARGET_AUTH'));
      else if (err.level === 'client-timeout')
        reject(new SshOpenError('timed out connecting to the target', 'TARGET_UNREACHABLE'));
      else reject(new SshOpenError('could not connect to the target', 'TARGET_UNREACHABLE'));
    });
    client.connect({
      host: target.host,
      port: target.port,
      username: target.user,
      ...auth,
      readyTimeout: CONNECT_TIMEOUT_MS,
      // AES runs in Node's native crypto; ssh2's chacha20 is JavaScript without its optional addon.
      algorithms: {
        cipher: [
          'aes128-gcm@openssh.com',
          'aes256-gcm@openssh.com',
          'aes128-ctr',
          'aes256-ctr',
          'chacha20-poly1305@openssh.com',
        ],
      },
      hostVerifier: (key: Buffer) => {
        const check = checkHostKey(key, target, target);
        if (!check.ok) hostKeyRefusal = check.reason;
        return check.ok;
      },
    });
  });
  if (stream.destroyed) {
    client.end();
    return;
  }

  let channel: ClientChannel;
  try {
    channel = await openChannel(client, open);
  } catch {
    client.end();
    if (open.request.type === 'direct-tcpip')
      throw new SshOpenError('the target could not open the forwarded connection', 'FORWARD_FAILED');
    throw new SshOpenError(`the target refused the ${open.request.type} request`, 'CHANNEL_REFUSED');
  }
  relay(channel, stream, () => client.end());
}

function openChannel(client: ssh2.Client, open: SshSessionOpen): Promise<ClientChannel> {
  const { request, pty, env } = open;
  const window = pty
    ? { term: pty.term, cols: pty.cols, rows: pty.rows, width: pty.width, height: pty.height }
    : undefined;
  return new Promise((resolve, reject) => {
    const done = (err: Error | undefined, channel: ClientChannel) => (err ? reject(err) : resolve(channel));
    if (request.type === 'shell') {
      if (window) client.shell(window, env ? { env } : {}, done);
      else client.shell(false, env ? { env } : {}, done);
    } else if (request.type === 'exec') {
      client.exec(request.command, { ...(window ? { pty: window } : {}), ...(env ? { env } : {}) }, done);
    } else if (request.type === 'subsystem') {
      client.subsys(request.name, done);
    } else {
      // ssh -L semantics: the target host makes the connection (its sshd's AllowTcpForwarding applies).
      client.forwardOut(request.originAddr, request.originPort, request.host, request.port, done);
    }
  });
}

function relay(channel: ClientChannel, stream: TunnelStream, closeTarget: () => void): void {
  // Target → gateway: stdout and stderr as their own frames, pausing the target when the tunnel is full.
  const send = (frame: Buffer, source: { pause(): unknown; resume(): unknown }) => {
    if (!stream.destroyed && !stream.write(frame)) {
      source.pause();
      stream.once('drain', () => source.resume());
    }
  };
  channel.on('data', (chunk: Buffer) => send(encodeSshFrame.data(chunk), channel));
  channel.stderr.on('data', (chunk: Buffer) => send(encodeSshFrame.stderr(chunk), channel.stderr));
  channel.on('end', () => {
    if (!stream.destroyed) stream.write(encodeSshFrame.eof());
  });
  let exit: SshExit | undefined;
  channel.on('exit', (code: number | null, signal?: string, coreDumped?: boolean, message?: string) => {
    exit =
      typeof code === 'number'
        ? { code }
        : { signal: signal ?? 'UNKNOWN', coreDumped: coreDumped ?? false, ...(message ? { message } : {}) };
  });
  channel.on('close', () => {
    if (!stream.destroyed) {
      if (exit) stream.write(encodeSshFrame.exit(exit));
      stream.end();
    }
    closeTarget();
  });

  // Gateway → target: stdin, EOF, window changes and signals.
  const decoder = new SshFrameDecoder();
  stream.on('data', (chunk: Buffer) => {
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch (error) {
      stream.destroy(error as Error);
      channel.close();
      return;
    }
    for (const frame of frames) {
      switch (frame.type) {
        case SshFrameType.Data:
          if (!channel.write(frame.data)) {
            stream.pause();
            channel.once('drain', () => stream.resume());
          }
          break;
        case SshFrameType.Eof:
          channel.end();
          break;
        case SshFrameType.Window:
          channel.setWindow(frame.window.rows, frame.window.cols, frame.window.height, frame.window.width);
          break;
        case SshFrameType.Signal:
          channel.signal(frame.signal);
          break;
        default:
          break;
      }
    }
  });
  stream.once('end', () => channel.end());
  const abort = () => {
    channel.close();
    closeTarget();
  };
  stream.once('close', abort);
  stream.once('error', abort);
}
