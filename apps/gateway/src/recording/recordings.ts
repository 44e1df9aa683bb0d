import type { PrismaClient, RawExecute } from '@warden/db';
import type { Principal } from '@warden/access';
import { recordingSignerFrom, type RecordingSigner, type SessionStartPayload } from '@warden/recording';
import type { Logger, SecretBox } from '@warden/runtime';
import { OffloadedRecording, RecordingOffload } from './offload/recording-offload.js';
import { endOrphanedRecording, type OrphanedEnd, type OrphanedSession } from './interrupted-seal.js';
import type { RecordingOptions } from './recording-options.js';
import { RecordingWriter, type RecordingWriterOptions } from './recording-writer.js';
import { SessionRecorder, type EventRecorder } from './session-recorder.js';

/** Who connected, where to, and how: the facts a recording starts with. */
export interface RecordedSessionStart {
  protocol: SessionStartPayload['protocol'];
  principal: Principal;
  connection: { id: string; name: string; agent: { id: string; name: string } };
  client: { addr: string | undefined; tls: boolean; user: string | undefined };
}

export interface RecordingsOptions extends RecordingWriterOptions {
  /** Record Postgres sessions on the gateway's own thread instead of the recording worker. */
  inThread?: boolean;
}

/**
 * The gateway's recording service: one batched writer shared by every session, the
 * recording worker that does Postgres sessions' recording work off the event loop, and
 * the deployment's signing key, whose public half is published in the control plane
 * so the API and offline verifiers can check seals.
 */
export class Recordings {
  readonly writer: RecordingWriter;
  readonly signer: RecordingSigner;
  readonly offload: RecordingOffload;

  constructor(
    private readonly prisma: PrismaClient,
    execute: RawExecute,
    secretBox: SecretBox,
    logger: Logger,
    options: RecordingsOptions = {},
  ) {
    this.writer = new RecordingWriter(execute, logger, options);
    this.signer = recordingSignerFrom((label) => secretBox.derive(label));
    this.offload = new RecordingOffload(this.writer, this.signer, logger, { inThread: options.inThread ?? false });
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

  /** Opens a session's recording on this thread with its session.start event (SSH, HTTP). */
  begin(sessionId: string, start: RecordedSessionStart): SessionRecorder {
    const recorder = this.open(sessionId);
    this.recordStart(recorder, start);
    return recorder;
  }

  /** Opens a Postgres session's recording in the recording worker, with its session.start event. */
  beginPostgres(sessionId: string, start: RecordedSessionStart, options: RecordingOptions): OffloadedRecording {
    const recording = this.offload.open(sessionId, options);
    this.recordStart(recording, start);
    return recording;
  }

  /**
   * Ends the recording of a session whose gateway went away without ending it: sealed over what
   * was stored, marked as interrupted (interrupted-seal.ts). `by` is this gateway's id.
   */
  endOrphaned(session: OrphanedSession, by: string, reason: string): Promise<OrphanedEnd> {
    return endOrphanedRecording(this.prisma, this.signer, session, by, reason);
  }

  /** True while recorded sessions should stop reading (a recording stage is too far behind). */
  get overloaded(): boolean {
    return this.offload.overloaded;
  }

  whenRelieved(): Promise<void> {
    return this.offload.whenRelieved();
  }

  private recordStart(recorder: EventRecorder, start: RecordedSessionStart): void {
    const { principal, connection, protocol, client } = start;
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
  }

  async close(): Promise<void> {
    await this.offload.close();
    await this.writer.close();
  }
}
