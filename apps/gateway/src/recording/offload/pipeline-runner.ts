import type { PipelineOutput } from './recording-pipeline.js';
import { RecordingPipeline } from './recording-pipeline.js';

/** An op log handed to the pipeline. */
export interface LogMessage {
  log: ArrayBuffer;
  length: number;
}

/** The pipeline's answer to each log: how much it applied, the log back for reuse, and any output due. */
export interface ReplyMessage {
  ack: number;
  log?: ArrayBuffer;
  output?: PipelineOutput;
  flushed: number[];
}

export interface PipelineRunnerOptions {
  /** Longest an event waits in the pipeline before its chunk goes to the writer. */
  chunkIntervalMs: number;
  /** Events waiting after which chunks go at once. */
  maxWaiting: number;
}

export const DEFAULT_PIPELINE_OPTIONS: PipelineRunnerOptions = { chunkIntervalMs: 100, maxWaiting: 5000 };

/** The chunks' event bytes, each in a buffer of its own (ChunkBuilder.take), to transfer. */
function chunkBuffers(output: PipelineOutput): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  for (const chunk of output.chunks)
    if (typeof chunk.events !== 'string') buffers.push(chunk.events.buffer as ArrayBuffer);
  return buffers;
}

/**
 * Drives a RecordingPipeline from messages: each op log is applied at once and acknowledged
 * (the gateway counts unacknowledged bytes for backpressure); chunks go back every
 * `chunkIntervalMs`, at once when a chain closed or a flush was asked for. The same runner
 * serves the worker thread and the in-thread mode.
 */
export class PipelineRunner {
  private readonly pipeline = new RecordingPipeline();
  private timer: NodeJS.Timeout | null = null;
  private lastOutput = performance.now();

  constructor(
    private readonly reply: (message: ReplyMessage, transfer: ArrayBuffer[]) => void,
    private readonly options: PipelineRunnerOptions = DEFAULT_PIPELINE_OPTIONS,
  ) {}

  receive(message: LogMessage): void {
    const flushed = this.pipeline.consume(Buffer.from(message.log, 0, message.length));
    const due =
      flushed.length > 0 ||
      this.pipeline.urgent ||
      this.pipeline.waiting >= this.options.maxWaiting ||
      performance.now() - this.lastOutput >= this.options.chunkIntervalMs;
    const reply: ReplyMessage = { ack: message.length, log: message.log, flushed };
    const transfer = [message.log];
    if (due) {
      reply.output = this.output();
      transfer.push(...chunkBuffers(reply.output));
    } else if (this.pipeline.waiting > 0) {
      this.timer ??= setTimeout(() => this.sendOutput(), this.options.chunkIntervalMs);
    }
    this.reply(reply, transfer);
  }

  private sendOutput(): void {
    this.timer = null;
    const output = this.output();
    this.reply({ ack: 0, flushed: [], output }, chunkBuffers(output));
  }

  private output(): PipelineOutput {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.lastOutput = performance.now();
    return this.pipeline.take();
  }
}
