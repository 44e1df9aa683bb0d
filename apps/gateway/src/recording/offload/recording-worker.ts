// The recording worker's entry: a RecordingPipeline behind worker_threads messages.
// RecordingOffload starts it; scripts/build.ts bundles it as dist/recording-worker.js.
import { parentPort } from 'node:worker_threads';
import { PipelineRunner, type LogMessage } from './pipeline-runner.js';

const port = parentPort;
if (!port) throw new Error('recording-worker.js runs as a worker thread of the gateway');
const runner = new PipelineRunner((message, transfer) => port.postMessage(message, transfer));
port.on('message', (message: LogMessage) => runner.receive(message));
