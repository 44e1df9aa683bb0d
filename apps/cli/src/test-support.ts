// Helpers for the CLI's tests: an in-process context, export files, and a stand-in API.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatExport } from '@warden/recording';
import type { TestRecording } from '@warden/recording/testing';
import type { CliContext } from './command.js';

export interface CapturedContext extends CliContext {
  out: () => string;
  err: () => string;
  sleeps: number[];
}

export function testContext(overrides: Partial<CliContext> = {}): CapturedContext {
  let out = '';
  let err = '';
  const sleeps: number[] = [];
  return {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    env: {},
    cwd: process.cwd(),
    readStdin: async () => '',
    fetch,
    sleep: async (ms) => void sleeps.push(ms),
    ...overrides,
    out: () => out,
    err: () => err,
    sleeps,
  };
}

export function exportText(r: TestRecording, session: Record<string, unknown> = {}): string {
  return formatExport(
    { session: { id: r.sessionId, ...session }, seal: r.seal, publicKey: r.signer.publicKey },
    r.events,
  );
}

/** A temporary directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; file: (name: string, text: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'warden-cli-'));
  return {
    dir,
    file: (name, text) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface FakeApi {
  url: string;
  requests: { url: string; authorization: string | undefined; accept: string | undefined }[];
  close: () => Promise<void>;
}

/** An HTTP server standing in for the API, answering with `handler`. */
export async function fakeApi(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<FakeApi> {
  const requests: FakeApi['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization, accept: req.headers.accept });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const api = await fakeApi(() => {});
  await api.close();
  return Number(new URL(api.url).port);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
