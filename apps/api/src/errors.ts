import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Prisma } from '@warden/db';

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
  500: 'Internal Server Error',
};

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
  if (error instanceof ApiError) return send(reply, error.statusCode, error.message, error.details);
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
  const status = error.statusCode ?? 500;
  if (status === 413) return send(reply, 413, 'request body is larger than the limit');
  if (status >= 400 && status < 500) return send(reply, status, error.message);
  request.log.error({ err: error }, 'unhandled error');
  return send(reply, 500, 'internal error');
}

function fieldOf(context: string, instancePath: string, params: Record<string, unknown>): string {
  const base = [context, ...instancePath.split('/').filter(Boolean)];
  const missing = params.missingProperty ?? params.additionalProperty;
  if (typeof missing === 'string') base.push(missing);
  return base.join('.');
}
