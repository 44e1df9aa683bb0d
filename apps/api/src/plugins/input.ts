import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { badRequest, type FieldError } from '../errors.js';
import type { ApiInstance } from '../types.js';

/** Fields reported at most for one request: a body of a thousand bad strings needs no thousand lines. */
const MAX_REPORTED = 10;

const NUL_MESSAGE = 'must not contain a NUL character (\\u0000)';
const NUL_KEY_MESSAGE = 'key must not contain a NUL character (\\u0000)';
const PROTOTYPE_MESSAGE = 'prototype keys (__proto__, constructor.prototype) are not allowed';

/**
 * What the API refuses in any request before a route sees it, with a 400 that names the field:
 *
 * - A NUL character (`%00` in a path id or a query filter, `\u0000` in a JSON string or key).
 *   Postgres cannot store or even compare text with NUL; without this check such values reached
 *   the database and came back as 500s with error-level logs. Names, ids and filters never
 *   legitimately contain one.
 * - JSON bodies with prototype keys (`__proto__`, or `constructor` holding `prototype`), which
 *   would alter object prototypes wherever a body is merged into another object. Fastify's own
 *   parser refuses them too, but says only "not valid JSON"; this parser says why.
 *
 * Registered at the root before every route, so every route (including those of other plugins)
 * gets the same checks. The NUL check runs in preValidation: after authentication (a caller
 * without a valid token learns nothing) and before schema validation and the handlers.
 */
export const inputPlugin = fp(async (app: ApiInstance) => {
  const fastifyJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    // Fastify's own answer for an empty JSON body (400 "Body cannot be empty ...").
    if (text.length === 0) return fastifyJson(request, text, done);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done(badRequest(`the body is not valid JSON: ${(err as Error).message}`), undefined);
    }
    const prototypeKey = findPrototypeKey(value);
    if (prototypeKey) {
      return done(
        badRequest(`invalid body: ${PROTOTYPE_MESSAGE}`, [{ field: prototypeKey, message: PROTOTYPE_MESSAGE }]),
        undefined,
      );
    }
    done(null, value);
  });

  app.addHook('preValidation', async (request: FastifyRequest) => {
    const problems: FieldError[] = [];
    findNul('params', request.params, problems);
    findNul('querystring', request.query, problems);
    findNul('body', request.body, problems);
    if (problems.length === 0) return;
    const contexts = new Set(problems.map((p) => p.field.split('.')[0]));
    const context = contexts.size === 1 ? [...contexts][0] : 'request';
    request.log.info({ fields: problems.map((p) => p.field) }, 'request refused: NUL character');
    throw badRequest(`invalid ${context}: ${NUL_MESSAGE}`, problems);
  });
});

/** A field path a client can read: NULs in a key are shown escaped. */
function fieldPath(parent: string, key: string): string {
  return `${parent}.${key.replaceAll('\u0000', '\\u0000')}`;
}

/** Collects (up to MAX_REPORTED) the strings and keys under `value` that contain a NUL. Iterative: bodies can nest deeply. */
function findNul(root: string, value: unknown, problems: FieldError[]): void {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0 && problems.length < MAX_REPORTED) {
    const [current, path] = stack.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) problems.push({ field: path, message: NUL_MESSAGE });
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push([current[i], `${path}.${i}`]);
      continue;
    }
    const keys = Object.keys(current);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const child = fieldPath(path, key);
      if (key.includes('\u0000')) {
        problems.push({ field: child, message: NUL_KEY_MESSAGE });
        if (problems.length >= MAX_REPORTED) return;
      }
      stack.push([(current as Record<string, unknown>)[key], child]);
    }
  }
}

/** The path (`body.a.__proto__`) of the first prototype key in a parsed JSON body, if any. */
function findPrototypeKey(value: unknown): string | undefined {
  const stack: [unknown, string][] = [[value, 'body']];
  while (stack.length > 0) {
    const [current, path] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (Array.isArray(current)) {
      current.forEach((item, i) => stack.push([item, `${path}.${i}`]));
      continue;
    }
    const record = current as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (key === '__proto__') return fieldPath(path, key);
      const child = record[key];
      if (
        key === 'constructor' &&
        child !== null &&
        typeof child === 'object' &&
        Object.prototype.hasOwnProperty.call(child, 'prototype')
      ) {
        return fieldPath(fieldPath(path, key), 'prototype');
      }
      stack.push([child, fieldPath(path, key)]);
    }
  }
  return undefined;
}
