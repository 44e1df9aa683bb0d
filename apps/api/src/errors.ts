import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isControlPlaneUnavailable, Prisma } from '@warden/db';
import { apiMetrics } from './observability/api-metrics.js';

/** Field-level detail of a 4xx, so a client knows exactly what to fix. */
export interface FieldError {
  field: string;
  message: string;
}

/** An error a route throws on purpose; the handler renders it as-is. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details?: FieldError[],
    /** Response headers that go with it (Retry-After on a 429). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const notFound = (what: string, ref: string) => new ApiError(404, `${what} "${ref}" not found`);
export const conflict = (message: string) => new ApiError(409, message);
export const badRequest = (message: string, details?: FieldError[]) => new ApiError(400, message, details);

const statusNames: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** What a client reads when the control-plane database cannot be used; the detail goes to the log. */
export const CONTROL_PLANE_UNAVAILABLE = 'the control-plane database is unavailable; try again shortly';

/** Postgres refuses NUL in text (22021) and in JSON (22P05): a value no check caught before the query. */
const UNSTORABLE_TEXT = /^(22021|22P05)$/;

function send(reply: FastifyReply, statusCode: number, message: string, details?: FieldError[]) {
  return reply
    .code(statusCode)
    .send({ statusCode, error: statusNames[statusCode] ?? 'Error', message, ...(details ? { details } : {}) });
}

/**
 * Maps everything a route can throw to a precise status. Unique violations become
 * 409 here (not in each route) so concurrent creates of one name give one row and
 * one 409, never a 500.
 */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof ApiError) {
    if (error.headers) void reply.headers(error.headers);
    return send(reply, error.statusCode, error.message, error.details);
  }
  if (error.validation) {
    const details = error.validation.map((v) => ({
      field: fieldOf(error.validationContext ?? 'body', v.instancePath, v.params),
      message: v.message ?? 'is invalid',
    }));
    return send(reply, 400, `invalid ${error.validationContext ?? 'request'}`, details);
  }
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (error.code === 'P2002') {
      const target = (
        error.meta as { target?: unknown; driverAdapterError?: { cause?: { constraint?: { fields?: string[] } } } }
      )?.driverAdapterError?.cause?.constraint?.fields;
      return send(reply, 409, `already exists${target ? ` (${target.join(', ')})` : ''}`);
    }
    if (error.code === 'P2025') return send(reply, 404, 'not found');
    if (error.code === 'P2003') return send(reply, 409, 'still referenced by other resources');
  }
  // Prisma's messages name source files, quote code and give the database's host:port: log them, never send them.
  if (isControlPlaneUnavailable(error)) {
    apiMetrics.controlPlaneUnavailable.inc();
    request.log.error({ err: error }, 'control-plane database unavailable');
    return send(reply, 503, CONTROL_PLANE_UNAVAILABLE);
  }
  if (UNSTORABLE_TEXT.test(databaseErrorCode(error) ?? '')) {
    request.log.info({ err: error }, 'a value the database cannot store');
    return send(reply, 400, 'a value contains a character that cannot be stored (NUL, \\u0000)');
  }
  const status = error.statusCode ?? 500;
  if (status === 413) return send(reply, 413, 'request body is larger than the limit');
  if (status >= 400 && status < 500) return send(reply, status, error.message);
  if (status === 503) {
    // Thrown on purpose by a dependency that knows it is down (its message says which).
    request.log.warn({ err: error }, 'service unavailable');
    return send(reply, 503, error.message);
  }
  request.log.error({ err: error }, 'unhandled error');
  return send(reply, 500, 'internal error');
}

/** The SQLSTATE behind a Prisma error, wherever this Prisma version keeps it. */
function databaseErrorCode(error: unknown): string | undefined {
  const meta = (error as { meta?: { code?: unknown; driverAdapterError?: { cause?: Record<string, unknown> } } }).meta;
  const cause = meta?.driverAdapterError?.cause;
  const code = cause?.originalCode ?? cause?.code ?? meta?.code;
  return typeof code === 'string' ? code : undefined;
}

function fieldOf(context: string, instancePath: string, params: Record<string, unknown>): string {
  const base = [context, ...instancePath.split('/').filter(Boolean)];
  const missing = params.missingProperty ?? params.additionalProperty;
  if (typeof missing === 'string') base.push(missing);
  return base.join('.');
}
