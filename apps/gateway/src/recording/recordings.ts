import type { PrismaClient, RawExecute } from '@warden/db';
import { recordingSignerFrom, type RecordingSigner } from '@warden/recording';
import type { Logger, SecretBox } from '@warden/runtime';
import { RecordingWriter, type RecordingWriterOptions } from './recording-writer.js';
import { SessionRecorder } from './session-recorder.js';

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

  close(): Promise<void> {
    return this.writer.close();
  }
}
