import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, DEFAULT_API_URL } from './api-client.js';
import { closedPort, fakeApi, sendJson, type FakeApi } from './test-support.js';

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe('ApiClient', () => {
  it('takes the base URL and token from WARDEN_URL and WARDEN_TOKEN, with a local default', () => {
    expect(ApiClient.fromEnv({}).baseUrl).toBe(DEFAULT_API_URL);
    expect(ApiClient.fromEnv({ WARDEN_URL: 'https://w.example/prefix/' }).baseUrl).toBe('https://w.example/prefix');
  });

  it('fetches an export with the bearer token, keeping a path prefix', async () => {
    api = await fakeApi((_req, res) => res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end('{}\n'));
    const client = new ApiClient(api.url + '/base/', 'tok-1');
    expect(await client.exportSession('a b')).toBe('{}\n');
    expect(api.requests).toEqual([
      { url: '/base/api/sessions/a%20b/export', authorization: 'Bearer tok-1', accept: 'application/x-ndjson' },
    ]);
  });

  it('explains a 401 without a token as "set WARDEN_TOKEN"', async () => {
    api = await fakeApi((_req, res) => sendJson(res, 401, { statusCode: 401, message: 'missing token' }));
    const err = await failure(new ApiClient(api.url, undefined).exportSession('s1'));
    expect(err.status).toBe(401);
    expect(err.message).toContain('not authenticated: set WARDEN_TOKEN');
  });

  it('explains a 401 with a token as a rejected token, quoting the server', async () => {
    api = await fakeApi((_req, res) => sendJson(res, 401, { statusCode: 401, message: 'token expired' }));
    const err = await failure(new ApiClient(api.url, 'old').exportSession('s1'));
    expect(err.message).toContain('rejected WARDEN_TOKEN (401: token expired)');
  });

  it('explains a 403 as a permission the identity lacks', async () => {
    api = await fakeApi((_req, res) => sendJson(res, 403, { statusCode: 403, message: 'needs sessions:read' }));
    const err = await failure(new ApiClient(api.url, 't').exportSession('s1'));
    expect(err.message).toBe(
      'forbidden (403: needs sessions:read): the identity behind WARDEN_TOKEN may not read session s1',
    );
  });

  it('names the missing session on a 404', async () => {
    api = await fakeApi((_req, res) => sendJson(res, 404, { statusCode: 404, message: 'Not Found' }));
    expect((await failure(new ApiClient(api.url, 't').exportSession('s-404'))).message).toBe(
      'session s-404 not found (404)',
    );
  });

  it('reports other statuses with the server message', async () => {
    api = await fakeApi((_req, res) => sendJson(res, 500, { message: 'boom' }));
    expect((await failure(new ApiClient(api.url, 't').getText('/x'))).message).toBe(
      'the API answered 500 Internal Server Error: boom',
    );
  });

  it('says so when nothing listens at WARDEN_URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const err = await failure(new ApiClient(url, 't').exportSession('s1'));
    expect(err.message).toBe(
      `cannot reach the Warden API at ${url}: connection refused; is it running? Set WARDEN_URL to its address.`,
    );
  });
});
