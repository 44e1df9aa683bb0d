import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startDataPath, type DataPath } from '../support/data-path.js';
import { Browser, startOidcProvider, type TestOidcProvider } from '../support/oidc.js';
import { freePort } from '../support/ports.js';
import { craftToken, fragmentTokens, type Tokens } from './tokens.js';

// People sign in through a real OpenID Connect provider (oidc-provider, in this process),
// over HTTP against the real API; the access token they get is the password for psql
// through the real gateway and agent, and the provider's groups decide which connections
// they may use. Every kind of bad token is refused on both the API and the Postgres listener.
let dp: DataPath;
let provider: TestOidcProvider;
let apiUrl: string;
const seenTokens: string[] = [];

async function createConnection(name: string, allowedGroups: string[]) {
  const res = await dp.api.request('POST', '/api/connections', {
    body: {
      name,
      type: 'postgres',
      agent: 'edge',
      config: { host: '127.0.0.1', port: 5432, database: dp.targetDb, user: 'postgres', sslmode: 'disable' },
      allowedGroups,
    },
  });
  if (res.status !== 201) throw new Error(`creating ${name}: ${res.text}`);
}

beforeAll(async () => {
  const apiPort = await freePort();
  apiUrl = `http://127.0.0.1:${apiPort}`;
  provider = await startOidcProvider({ redirectUris: [`${apiUrl}/api/auth/oidc/callback`] });
  provider.accounts.set('alice', { groups: ['engineering', 'Data Team'], name: 'Alice Example' });
  provider.accounts.set('root', { groups: ['warden-admins'] });
  // Two gateway replicas on one control plane: a token minted once verifies on both, and is refused on both once revoked.
  dp = await startDataPath({
    redisPrefix: `warden-test-${randomBytes(4).toString('hex')}`,
    replica: true,
    apiConfig: {
      api: { host: '127.0.0.1', port: apiPort },
      publicUrl: apiUrl,
      oidc: {
        issuer: provider.issuer,
        clientId: provider.clientId,
        clientSecret: provider.clientSecret,
        groupsClaim: 'groups',
        scopes: 'openid profile email groups',
        adminGroups: ['warden-admins'],
      },
    },
  });
  for (const name of ['engineering', 'finance', 'ops']) {
    const res = await dp.api.request('POST', '/api/groups', { body: { name } });
    if (res.status !== 201) throw new Error(`creating group ${name}: ${res.text}`);
  }
  await createConnection('pg-eng', ['engineering']);
  await createConnection('pg-finance', ['finance']);
});

afterAll(async () => {
  await dp?.close();
  await provider?.close();
});

/** The whole browser login: Warden → provider login and consent pages → Warden → return_to. */
async function signIn(login: string, returnTo = '/console/'): Promise<Tokens> {
  const browser = new Browser();
  const start = `${apiUrl}/api/auth/oidc/login?return_to=${encodeURIComponent(returnTo)}`;
  const done = await browser.signIn(start, login, (url) => url.origin === apiUrl && !url.pathname.startsWith('/api/'));
  for (const visited of browser.visited) {
    const code = new URL(visited).pathname === '/api/auth/oidc/callback' && new URL(visited).searchParams.get('code');
    if (code) seenTokens.push(code);
  }
  expect(done.url.pathname).toBe(returnTo);
  const tokens = fragmentTokens(done.url);
  seenTokens.push(tokens.access_token, tokens.refresh_token);
  return tokens;
}

async function psqlAs(token: string, connection: string) {
  return dp.psql(['-tAc', 'select 40 + 2'], { token, connection });
}

/** The SQLSTATE a node-postgres client gets when it cannot log in. */
async function loginCode(token: string, connection = 'pg-eng', replica = false): Promise<string | undefined> {
  const url = replica ? dp.replica!.url(token, connection) : dp.url(token, connection);
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  await client.end();
  return 'connected';
}

describe('sign-in configuration', () => {
  it('tells the console and the CLI that OIDC is on, without authentication', async () => {
    const res = await dp.api.request('GET', '/api/auth/config', { token: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ oidc: { enabled: true, issuer: provider.issuer } });
    const jwks = await dp.api.request('GET', '/api/auth/jwks', { token: null });
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(JSON.stringify(jwks.body)).not.toMatch(/"d"/);
  });

  it('refuses a return_to outside this origin or the loopback interface', async () => {
    for (const bad of [
      'https://evil.example/steal',
      '//evil.example/x',
      'http://127.0.0.1/no-port',
      'http://evil.example:8080/x',
      'https://127.0.0.1:8080/x',
      'javascript:alert(1)',
      'http://user:pw@127.0.0.1:9000/x',
    ]) {
      const res = await fetch(`${apiUrl}/api/auth/oidc/login?return_to=${encodeURIComponent(bad)}`, {
        redirect: 'manual',
      });
      expect(res.status, bad).toBe(400);
      expect((await res.json()).details[0].field).toBe('querystring.return_to');
    }
    const ok = await fetch(`${apiUrl}/api/auth/oidc/login?return_to=${encodeURIComponent('/console/x?y=1')}`, {
      redirect: 'manual',
    });
    expect(ok.status).toBe(302);
    const location = new URL(ok.headers.get('location')!);
    expect(location.origin).toBe(provider.issuer);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('state')).toBeTruthy();
    expect(location.searchParams.get('nonce')).toBeTruthy();
    expect(ok.headers.get('set-cookie')).toMatch(/HttpOnly/);
  });

  it('keeps every other /api route authenticated', async () => {
    expect((await dp.api.request('GET', '/api/users/me', { token: null })).status).toBe(401);
    expect((await dp.api.request('GET', '/api/connections', { token: null })).status).toBe(401);
  });
});

describe('login and groups from the provider', () => {
  let alice: Tokens;

  it('creates the user on first login, with the groups the provider sends', async () => {
    alice = await signIn('alice');
    expect(alice.token_type).toBe('Bearer');
    expect(alice.expires_in).toBe(8 * 3600);
    expect(alice.refresh_token).toMatch(/^wdr_/);
    const me = await dp.api.request('GET', '/api/users/me', { token: alice.access_token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ name: 'alice', kind: 'user', role: 'user', status: 'active' });
    expect(me.body.email).toBe('alice@example.test');
    expect(me.body.groups.map((g: { name: string; source: string }) => `${g.name}:${g.source}`).sort()).toEqual([
      'Data-Team:oidc',
      'engineering:oidc',
    ]);
  });

  it('lets the token through the gateway to the connections its groups allow, and no others', async () => {
    const allowed = await psqlAs(alice.access_token, 'pg-eng');
    expect(allowed.stderr).toBe('');
    expect(allowed.stdout.trim()).toBe('42');
    const refused = await psqlAs(alice.access_token, 'pg-finance');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/not allowed to use connection "pg-finance"/);
    expect(await loginCode(alice.access_token, 'pg-finance')).toBe('28000');
    const sessions = await dp.api.request('GET', '/api/sessions?identity=alice');
    expect(sessions.status).toBe(200);
    expect(sessions.body.items?.length ?? sessions.body.length).toBeGreaterThan(0);
  });

  it('resynchronises oidc memberships at every login and leaves manual ones alone', async () => {
    const manual = await dp.api.request('PATCH', '/api/users/alice', { body: { groups: ['ops'] } });
    expect(manual.status).toBe(200);
    provider.accounts.set('alice', { groups: ['finance'] });
    const again = await signIn('alice');
    const me = await dp.api.request('GET', '/api/users/me', { token: again.access_token });
    expect(me.body.groups.map((g: { name: string; source: string }) => `${g.name}:${g.source}`).sort()).toEqual([
      'finance:oidc',
      'ops:manual',
    ]);
    expect(await loginCode(again.access_token, 'pg-finance')).toBe('connected');
    expect(await loginCode(again.access_token, 'pg-eng')).toBe('28000');
    // The earlier sign-in's token follows the identity's groups now, not those at its login.
    expect(await loginCode(alice.access_token, 'pg-eng')).toBe('28000');
  });

  it('makes members of the admin groups admins', async () => {
    const root = await signIn('root');
    const me = await dp.api.request('GET', '/api/users/me', { token: root.access_token });
    expect(me.body.role).toBe('admin');
    expect(await loginCode(root.access_token, 'pg-finance')).toBe('connected');
  });
});

describe('refresh and logout', () => {
  it('rotates refresh tokens and revokes the sign-in when a spent one comes back', async () => {
    const first = await signIn('alice');
    const refreshed = await dp.api.request('POST', '/api/auth/refresh', {
      token: null,
      body: { refresh_token: first.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ token_type: 'Bearer', expires_in: 8 * 3600 });
    expect(refreshed.body.refresh_token).not.toBe(first.refresh_token);
    seenTokens.push(refreshed.body.access_token, refreshed.body.refresh_token);
    expect((await dp.api.request('GET', '/api/users/me', { token: refreshed.body.access_token })).status).toBe(200);

    const replay = await dp.api.request('POST', '/api/auth/refresh', {
      token: null,
      body: { refresh_token: first.refresh_token },
    });
    expect(replay.status).toBe(401);
    // Reuse means the refresh token leaked: every token of that sign-in is dead now.
    expect((await dp.api.request('GET', '/api/users/me', { token: refreshed.body.access_token })).status).toBe(401);
    const next = await dp.api.request('POST', '/api/auth/refresh', {
      token: null,
      body: { refresh_token: refreshed.body.refresh_token },
    });
    expect(next.status).toBe(401);
    const garbage = await dp.api.request('POST', '/api/auth/refresh', { token: null, body: { refresh_token: 'x' } });
    expect(garbage.status).toBe(401);
    const missing = await dp.api.request('POST', '/api/auth/refresh', { token: null, body: {} });
    expect(missing.status).toBe(400);
  });

  it('logout revokes the access token on the API and the gateway within a second', async () => {
    const tokens = await signIn('alice');
    expect(await loginCode(tokens.access_token, 'pg-finance')).toBe('connected');
    expect(await loginCode(tokens.access_token, 'pg-finance', true)).toBe('connected');
    const out = await dp.api.request('POST', '/api/auth/logout', { token: tokens.access_token });
    expect(out.status).toBe(204);
    const started = Date.now();
    expect((await dp.api.request('GET', '/api/users/me', { token: tokens.access_token })).status).toBe(401);
    expect(await loginCode(tokens.access_token, 'pg-finance')).toBe('28P01');
    expect(await loginCode(tokens.access_token, 'pg-finance', true)).toBe('28P01');
    expect(Date.now() - started).toBeLessThan(1000);
    const refresh = await dp.api.request('POST', '/api/auth/refresh', {
      token: null,
      body: { refresh_token: tokens.refresh_token },
    });
    expect(refresh.status).toBe(401);
  });
});

describe('live sessions of an ended sign-in', () => {
  /** A connected psql-like client whose end (error or clean close) is observed. */
  async function liveClient(token: string, replica = false) {
    const client = new pg.Client({
      connectionString: replica ? dp.replica!.url(token, 'pg-finance') : dp.url(token, 'pg-finance'),
    });
    const ended = new Promise<Error & { code?: string }>((resolve) => client.on('error', resolve));
    await client.connect();
    return { client, ended };
  }

  it('logout ends the sessions opened with that sign-in on every replica with 57P01, and no others', async () => {
    const leaving = await signIn('alice');
    const staying = await signIn('alice');
    const onMain = await liveClient(leaving.access_token);
    const onReplica = await liveClient(leaving.access_token, true);
    const other = await liveClient(staying.access_token);
    expect((await onMain.client.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);

    const started = Date.now();
    expect((await dp.api.request('POST', '/api/auth/logout', { token: leaving.access_token })).status).toBe(204);
    const errors = await Promise.all([onMain.ended, onReplica.ended]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(errors.map((e) => e.code)).toEqual(['57P01', '57P01']);
    expect(errors[0]!.message).toContain('sign-in ended (logout)');
    // The same identity's other sign-in is a different credential: its session goes on.
    expect((await other.client.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
    await other.client.end();
  });

  it('a reused refresh token ends the live sessions of the sign-in it revokes', async () => {
    const tokens = await signIn('alice');
    const live = await liveClient(tokens.access_token);
    const first = await dp.api.request('POST', '/api/auth/refresh', {
      token: null,
      body: { refresh_token: tokens.refresh_token },
    });
    expect(first.status).toBe(200);
    seenTokens.push(first.body.access_token, first.body.refresh_token);
    const replay = await dp.api.request('POST', '/api/auth/refresh', {
      token: null,
      body: { refresh_token: tokens.refresh_token },
    });
    expect(replay.status).toBe(401);
    const error = await live.ended;
    expect(error.code).toBe('57P01');
    expect(error.message).toContain('refresh token reused');
  });
});

describe('sign-ins', () => {
  it('are listed (users: their own, marked current) and an admin revokes one: its tokens stop at once', async () => {
    const tokens = await signIn('alice');
    const own = await dp.api.request('GET', '/api/auth/sign-ins?active=true', { token: tokens.access_token });
    expect(own.status).toBe(200);
    expect(own.body.every((s: { identity: { name: string } }) => s.identity.name === 'alice')).toBe(true);
    const current = own.body.find((s: { current: boolean }) => s.current);
    expect(current).toMatchObject({ client: 'browser', revokedAt: null });
    expect(own.text).not.toContain(tokens.refresh_token);

    const root = await signIn('root');
    const listed = await dp.api.request('GET', '/api/auth/sign-ins?identity=alice&active=true');
    expect(listed.body.map((s: { id: string }) => s.id)).toContain(current.id);
    const revoked = await dp.api.request('DELETE', `/api/auth/sign-ins/${current.id}`, { token: root.access_token });
    expect(revoked.status).toBe(204);
    expect((await dp.api.request('GET', '/api/users/me', { token: tokens.access_token })).status).toBe(401);
    expect(await loginCode(tokens.access_token, 'pg-finance')).toBe('28P01');
    const audit = await dp.api.request('GET', '/api/audit?action=auth.sign_in.revoke');
    expect(JSON.stringify(audit.body)).toContain(current.id);

    // Someone else's sign-in does not exist for a user.
    const other = await signIn('bob');
    const foreign = await dp.api.request('DELETE', `/api/auth/sign-ins/${listed.body[0].id}`, {
      token: other.access_token,
    });
    expect(foreign.status).toBe(404);
  });
});

describe('bad tokens', () => {
  let alice: Tokens;
  const bad: Record<string, string> = {};

  beforeAll(async () => {
    alice = await signIn('alice');
    const { prisma } = dp.api.db;
    const now = Math.floor(Date.now() / 1000);
    bad.expired = await craftToken(prisma, dp.api.secretBox, alice.access_token, { exp: now - 60 });
    bad.forged = await craftToken(prisma, dp.api.secretBox, alice.access_token, { forge: true });
    bad.wrongAudience = await craftToken(prisma, dp.api.secretBox, alice.access_token, { aud: 'another-service' });
    bad.wrongIssuer = await craftToken(prisma, dp.api.secretBox, alice.access_token, { iss: 'https://evil.example' });
    // Same signature, one payload character changed.
    const [h, p, s] = alice.access_token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    payload.sub = '00000000-0000-4000-8000-000000000000';
    bad.tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    const revokedSignIn = await signIn('alice');
    await dp.api.request('POST', '/api/auth/logout', {
      token: null,
      body: { refresh_token: revokedSignIn.refresh_token },
    });
    bad.revoked = revokedSignIn.access_token;
    seenTokens.push(...Object.values(bad));
  });

  it('are refused with 401 on the API, with the precise reason in the log only', async () => {
    for (const [kind, token] of Object.entries(bad)) {
      const res = await dp.api.request('GET', '/api/users/me', { token });
      expect(res.status, kind).toBe(401);
    }
    const reasons = dp.api.logs
      .join('')
      .match(/"reason":"([a-z_]+)","msg":"authentication failed"/g)
      ?.join(' ');
    for (const reason of ['expired', 'forged', 'wrong_audience', 'wrong_issuer', 'revoked']) {
      expect(reasons).toContain(`"reason":"${reason}"`);
    }
    // The valid token still works next to them.
    expect((await dp.api.request('GET', '/api/users/me', { token: alice.access_token })).status).toBe(200);
  });

  it('are refused with 28P01 on the Postgres listener', async () => {
    for (const [kind, token] of Object.entries(bad)) {
      expect(await loginCode(token, 'pg-finance'), kind).toBe('28P01');
      expect(await loginCode(token, 'pg-finance', true), `${kind} on the replica`).toBe('28P01');
    }
    const viaPsql = await psqlAs(bad.expired!, 'pg-finance');
    expect(viaPsql.stderr).toMatch(/password authentication failed: the token has expired/);
    expect(dp.gateway.output()).toMatch(/"authFailure":"wrong_audience"/);
    expect(dp.gateway.output()).toMatch(/"authFailure":"forged"/);
  });

  it('a disabled identity’s token stops working at once, and works again when re-enabled', async () => {
    const disabled = await dp.api.request('PATCH', '/api/users/alice', { body: { status: 'disabled' } });
    expect(disabled.status).toBe(200);
    expect((await dp.api.request('GET', '/api/users/me', { token: alice.access_token })).status).toBe(401);
    expect(await loginCode(alice.access_token, 'pg-finance')).toBe('28P01');
    const refresh = await dp.api.request('POST', '/api/auth/refresh', {
      token: null,
      body: { refresh_token: alice.refresh_token },
    });
    expect(refresh.status).toBe(401);
    // A disabled person cannot sign in again either.
    const browser = new Browser();
    const done = await browser.signIn(
      `${apiUrl}/api/auth/oidc/login?return_to=/console/`,
      'alice',
      (url) => url.origin === apiUrl && !url.pathname.startsWith('/api/'),
    );
    expect(new URLSearchParams(done.url.hash.slice(1)).get('error')).toBe('access_denied');
    await dp.api.request('PATCH', '/api/users/alice', { body: { status: 'active' } });
  });
});

describe('the CLI', () => {
  const configHome = mkdtempSync(join(tmpdir(), 'warden-cli-'));
  const env = () => ({
    WARDEN_URL: apiUrl,
    XDG_CONFIG_HOME: configHome,
    WARDEN_POSTGRES_ADDR: `127.0.0.1:${dp.pgPort}`,
    WARDEN_NO_BROWSER: '1',
    WARDEN_TOKEN: '',
  });
  const warden = (args: string[], extra: Record<string, string> = {}) =>
    run(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], { env: { ...env(), ...extra } });
  const credentials = () => join(configHome, 'warden', 'credentials.json');
  afterAll(() => rmSync(configHome, { recursive: true, force: true }));

  /** `warden login`, with this process as the browser; resolves to the redirect the CLI received. */
  async function cliLogin(): Promise<URL> {
    const login = spawn(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', 'login'], {
      env: { ...process.env, ...env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    login.stdout.on('data', (d) => (output += d));
    login.stderr.on('data', (d) => (output += d));
    const exited = new Promise((resolve) => login.on('exit', resolve));
    await expect.poll(() => output, { timeout: 30_000 }).toMatch(/oidc\/login/);
    const printed = /^\s+(http\S+oidc\/login\S+)$/m.exec(output)?.[1];
    const loopback = new URL(new URL(printed!).searchParams.get('return_to')!);
    expect(loopback.hostname).toBe('127.0.0.1');
    const done = await new Browser().signIn(printed!, 'alice', (url) => url.port === loopback.port);
    const landing = await fetch(done.url);
    expect(await landing.text()).toContain('Signed in');
    expect(await exited, output).toBe(0);
    expect(output).toMatch(/Signed in to .* as alice/);
    const saved = JSON.parse(readFileSync(credentials(), 'utf8'))[apiUrl];
    seenTokens.push(saved.access_token, saved.refresh_token);
    return done.url;
  }

  it('logs in through the browser on a loopback redirect and saves the tokens (0600)', async () => {
    const redirect = await cliLogin();
    // The redirect carries a one-time code, never the tokens themselves.
    expect(redirect.searchParams.get('code')).toMatch(/^wdc_/);
    expect(redirect.hash).toBe('');
    expect(statSync(credentials()).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(credentials(), 'utf8'))[apiUrl];
    expect(saved.refresh_token).toMatch(/^wdr_/);
    expect((await dp.api.request('GET', '/api/users/me', { token: saved.access_token })).status).toBe(200);
    // A code works once; presenting it again means it leaked, and ends that sign-in.
    const again = await dp.api.request('POST', '/api/auth/exchange', {
      token: null,
      body: { code: redirect.searchParams.get('code') },
    });
    expect(again.status).toBe(401);
    expect((await dp.api.request('GET', '/api/users/me', { token: saved.access_token })).status).toBe(401);
    await cliLogin();
  }, 120_000);

  it('whoami, token and connect use the saved login; WARDEN_TOKEN overrides it', async () => {
    const whoami = await warden(['whoami']);
    expect(whoami.stdout, whoami.stderr).toMatch(/^alice \(user, role user; groups: .*finance/);
    const token = await warden(['token']);
    const accessToken = token.stdout.trim();
    expect((await dp.api.request('GET', '/api/users/me', { token: accessToken })).body.name).toBe('alice');

    const printed = await warden(['connect', 'pg-finance']);
    // Run from the sources with no `warden` on the PATH, the printed line calls the CLI by its path.
    const cliBin = fileURLToPath(new URL('../../apps/cli/bin/warden.js', import.meta.url));
    expect(printed.stdout.trim()).toBe(
      `PGPASSWORD="$(${process.execPath} ${cliBin} token)" psql "host=127.0.0.1 port=${dp.pgPort} dbname=pg-finance user=alice sslmode=prefer"`,
    );
    expect(printed.stdout).not.toContain(accessToken);
    const executed = await warden(['connect', 'pg-finance', '--exec', '--', '-X', '-tAc', 'select 6 * 7']);
    expect(executed.stderr).toBe('');
    expect(executed.stdout.trim()).toBe('42');
    // What psql is handed: the token in its environment, not on its command line.
    const fakePsql = join(configHome, 'fake-psql');
    writeFileSync(fakePsql, '#!/bin/sh\necho "argv: $*"\necho "PGPASSWORD=$PGPASSWORD"\n', { mode: 0o755 });
    const handed = await warden(['connect', 'pg-finance', '--exec', '--', '-X'], { WARDEN_PSQL: fakePsql });
    expect(handed.stdout).toContain(
      `argv: host=127.0.0.1 port=${dp.pgPort} dbname=pg-finance user=alice sslmode=prefer -X`,
    );
    expect(handed.stdout).toContain(`PGPASSWORD=${accessToken}`);
    expect(handed.stdout.split('\n')[0]).not.toContain(accessToken);
    const refused = await warden(['connect', 'pg-eng', '--exec', '--', '-X', '-c', 'select 1']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/not allowed to use connection "pg-eng"/);

    const asAdmin = await warden(['whoami'], { WARDEN_TOKEN: dp.adminKey });
    expect(asAdmin.stdout).toMatch(/^admin /);
  });

  it('refreshes an access token about to expire, and logout ends the sign-in', async () => {
    const before = JSON.parse(readFileSync(credentials(), 'utf8'));
    before[apiUrl].expires_at = Date.now() + 5_000;
    writeFileSync(credentials(), JSON.stringify(before), { mode: 0o600 });
    // Four at once (parallel scripts): one refreshes, the others wait and reuse its result,
    // so no spent refresh token is presented twice (which would end the sign-in).
    const parallel = await Promise.all([1, 2, 3, 4].map(() => warden(['token'])));
    expect(parallel.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const token = parallel[0]!.stdout.trim();
    expect(new Set(parallel.map((r) => r.stdout.trim())).size).toBe(1);
    expect(token).not.toBe(before[apiUrl].access_token);
    expect((await dp.api.request('GET', '/api/users/me', { token })).status).toBe(200);
    const after = JSON.parse(readFileSync(credentials(), 'utf8'))[apiUrl];
    expect(after.refresh_token).not.toBe(before[apiUrl].refresh_token);
    expect(after.access_token).toBe(token);
    seenTokens.push(token, after.refresh_token);

    const logout = await warden(['logout']);
    expect(logout.stdout).toMatch(/Signed out of/);
    expect((await dp.api.request('GET', '/api/users/me', { token })).status).toBe(401);
    expect(await loginCode(token, 'pg-finance')).toBe('28P01');
    const whoami = await warden(['whoami']);
    expect(whoami.code).toBe(1);
    expect(whoami.stderr).toMatch(/not signed in to .*warden login/);
  });
});

describe('logs', () => {
  it('never writes a token in full to the API, gateway or agent logs', () => {
    const logs = [dp.api.logs.join(''), dp.gateway.output(), dp.replica!.process.output(), dp.agent.output()].join(
      '\n',
    );
    expect(seenTokens.length).toBeGreaterThan(10);
    for (const token of seenTokens) {
      expect(logs.includes(token)).toBe(false);
      // Not even the signature part of a JWT.
      const signature = token.split('.')[2];
      if (signature) expect(logs.includes(signature)).toBe(false);
    }
  });
});
