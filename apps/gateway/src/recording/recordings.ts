import type { PrismaClient, RawExecute } from '@warden/db';
import type { Principal } from '@warden/access';
import { recordingSignerFrom, type RecordingSigner, type SessionStartPayload } from '@warden/recording';
import type { Logger, SecretBox } from '@warden/runtime';
import { RecordingWriter, type RecordingWriterOptions } from './recording-writer.js';
import { SessionRecorder } from './session-recorder.js';

/** Who connected, where to, and how: the facts a recording starts with. */
export interface RecordedSessionStart {
  protocol: SessionStartPayload['protocol'];
  principal: Principal;
  connection: { id: string; name: string; agent: { id: string; name: string } };
  client: { addr: string | undefined; tls: boolean; user: string | undefined };
}

/**
 * The gateway's recording service: one batched writer shared by every session and
 * the deployment's signing key, whose public half is published in the control plane
 * so the API and offline verifiers can check seals.
 */
export class Recordings {
  readonly writer: RecordingWriter;
  readonly signer: RecordingSigner;

  constructor(
    private readonly prisma: PrismaClient,
    execute: RawExecute,
    secretBox: SecretBox,
    logger: Logger,
    options: RecordingWriterOptions = {},
  ) {
    this.writer = new RecordingWriter(execute, logger, options);
    this.signer = recordingSignerFrom((label) => secretBox.derive(label));
  }

  /** Publishes the public key (idempotent; every replica derives the same one). */
  async publishKey(): Promise<void> {
    await this.prisma.recordingKey.upsert({
      where: { id: this.signer.keyId },
      create: { id: this.signer.keyId, publicKey: this.signer.publicKeyPem },
      update: {},
    });
  }

  open(sessionId: string): SessionRecorder {
    return new SessionRecorder(sessionId, this.writer, this.signer);
  }

  /** Opens a session's recording with its session.start event, whatever the protocol. */
  begin(sessionId: string, start: RecordedSessionStart): SessionRecorder {
    const { principal, connection, protocol, client } = start;
    const recorder = this.open(sessionId);
    recorder.record('gateway', 'session.start', {
      protocol,
      identity: { id: principal.identityId, name: principal.name, kind: principal.kind },
      connection: { id: connection.id, name: connection.name },
      agent: { id: connection.agent.id, name: connection.agent.name },
      clientAddr: client.addr ?? null,
      clientTls: client.tls,
      clientUser: client.user ?? null,
      signingKeyId: this.signer.keyId,
    });
    return recorder;
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}
