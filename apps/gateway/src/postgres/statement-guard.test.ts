import { compilePolicy } from '@warden/policy';
import { BackendSerializer, decodeErrorResponse, FrontendParser, serializeFrontend } from '@warden/pg-wire';
import { describe, expect, it } from 'vitest';
import { StatementGuard } from './statement-guard.js';

const policy = compilePolicy({ guardrails: [{ type: 'deny_kinds', name: 'no-drop', kinds: ['drop*'] }] }, 'guard-test');

function queryMessage(text: string) {
  const parser = new FrontendParser({ phase: 'normal' });
  parser.push(serializeFrontend.query(text));
  const message = parser.read();
  if (message?.kind !== 'query') throw new Error('not a query');
  return message;
}

/** The ErrorResponse the server sends for a poison: a syntax error quoting its token. */
function serverSyntaxError(poison: Buffer): Buffer {
  const token = /warden_policy_block_[0-9a-f]+/.exec(poison.toString('latin1'))![0];
  return BackendSerializer.errorResponse({
    severity: 'ERROR',
    code: '42601',
    message: `syntax error at or near "${token}"`,
  });
}

describe('StatementGuard', () => {
  it('forwards allowed statements untouched and replaces refused ones by a poison', () => {
    const guard = new StatementGuard(policy);
    const allowed = queryMessage('SELECT 1');
    expect(guard.query(allowed).frame).toBe(allowed.frame);
    const poison = guard.query(queryMessage('DROP TABLE t')).frame;
    expect(poison.toString('latin1')).not.toContain('DROP');
    expect(guard.blocked).toBe(1);
  });

  it("swaps the poison's error for the policy error and passes other errors through", () => {
    const guard = new StatementGuard(policy);
    const poison = guard.query(queryMessage('DROP TABLE t')).frame;
    const genuine = BackendSerializer.errorResponse({ severity: 'ERROR', code: '22012', message: 'division by zero' });
    const [out1] = guard.response(genuine);
    expect(decodeErrorResponse(out1!).code).toBe('22012');
    const [out2] = guard.response(serverSyntaxError(poison));
    const replaced = decodeErrorResponse(out2!);
    expect(replaced.code).toBe('42501');
    expect(replaced.message).toContain('no-drop');
  });

  it('keeps at most 256 unanswered poisons, and the newest still match', () => {
    const guard = new StatementGuard(policy);
    const poisons = Array.from({ length: 300 }, () => guard.query(queryMessage('DROP TABLE t')).frame);
    expect((guard as unknown as { pending: Map<string, Buffer> }).pending.size).toBe(256);
    const [out] = guard.response(serverSyntaxError(poisons.at(-1)!));
    expect(decodeErrorResponse(out!).code).toBe('42501');
  });
});
