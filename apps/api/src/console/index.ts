import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import type { ApiInstance } from '../types.js';

/** Where `pnpm generate` (apps/console's build) writes the console. */
export const CONSOLE_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../console/dist');

export interface ConsoleOptions {
  /** The built console (default CONSOLE_DIST); tests point it elsewhere. */
  root?: string;
}

/** Paths that belong to the API, its docs and metrics: never answered with the console. */
const NOT_CONSOLE = /^\/(api|docs|metrics)(\/|$)/;

/**
 * The console is a single page served from the API's origin, so it calls /api with no CORS and
 * tokens never cross origins. The policy allows only this origin's scripts (and WebAssembly,
 * which the SSH recording player runs), no framing, no inline script.
 */
const SECURITY_HEADERS = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

const MISSING_BUILD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Warden console not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5">
<h1>The Warden web console has not been built</h1>
<p>The API is running (see <a href="/docs">/docs</a> and <a href="/api/openapi.json">/api/openapi.json</a>),
but the console's files are missing from <code>apps/console/dist</code>.</p>
<p>Build them with <code>npx -y pnpm@10.34.8 generate</code> (which <code>pnpm start</code> and <code>pnpm test</code> run),
or <code>npx -y pnpm@10.34.8 --filter @warden/console build</code>, then reload this page.</p>
</body></html>
`;

/** Vite names everything under assets/ by content hash: those never change, everything else may. */
function cacheFor(relative: string): { maxAge: number; immutable: boolean } {
  return relative.startsWith('assets/')
    ? { maxAge: 365 * 24 * 3600 * 1000, immutable: true }
    : { maxAge: 0, immutable: false };
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Serves the web console's built files on the API's origin: assets by path, and index.html for
 * every other GET outside /api, /docs and /metrics, so the console's own routes (/sessions/...,
 * /reviews/<id> from review notices) load on a reload or a pasted link. Registered once in app.ts.
 */
export async function consolePlugin(app: ApiInstance, options: ConsoleOptions = {}) {
  const root = path.resolve(options.root ?? CONSOLE_DIST);
  // Only the reply decorator: routing stays here, so /api 404s stay JSON and missing assets stay 404s.
  await app.register(fastifyStatic, { root, serve: false, index: false, dotfiles: 'deny' });

  const sendIndex = (reply: FastifyReply) =>
    reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache').sendFile('index.html', root, {
      cacheControl: false,
    });

  app.get('/*', { schema: { hide: true } }, async (req, reply) => {
    const urlPath = req.url.split('?')[0] ?? '/';
    if (NOT_CONSOLE.test(urlPath)) return reply.callNotFound();
    // Checked per request so building the console while the API runs needs no restart.
    if (!existsSync(path.join(root, 'index.html'))) {
      return reply
        .code(503)
        .headers(SECURITY_HEADERS)
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(MISSING_BUILD_PAGE);
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return reply.callNotFound();
    }
    const relative = path.posix.normalize(decoded).replace(/^\/+/, '');
    const file = path.resolve(root, relative);
    if (relative && relative !== 'index.html' && file.startsWith(root + path.sep) && isFile(file)) {
      return reply.headers(SECURITY_HEADERS).sendFile(relative, root, cacheFor(relative));
    }
    // A missing file (a stale asset name, a typo) is a 404, not the page: a script tag must not get HTML.
    if (/\.[a-z0-9]{1,8}$/i.test(relative) && relative !== 'index.html') return reply.callNotFound();
    return sendIndex(reply);
  });
}
