import type { Server } from 'node:http';
import Provider, { type Configuration } from 'oidc-provider';
import { freePort } from './ports.js';

/** What the provider says about one person: the claims Warden provisions from. */
export interface TestAccount {
  email?: string;
  name?: string;
  groups?: string[];
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Accounts by login name; change them between logins to test group synchronisation. */
  accounts: Map<string, TestAccount>;
  close(): Promise<void>;
}

/**
 * A real OpenID Connect provider (the `oidc-provider` package) in this process: one
 * confidential client that must use PKCE, a `groups` claim (served from userinfo, as
 * conformIdTokenClaims does for the code flow), and its development login and consent
 * pages, which `Browser` drives over HTTP.
 */
export async function startOidcProvider(options: { redirectUris: string[] }): Promise<TestOidcProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = 'warden';
  const clientSecret = 'test-client-secret-0123456789abcdef';
  const accounts = new Map<string, TestAccount>();
  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, id) {
      const account = accounts.get(id) ?? {};
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            preferred_username: id,
            email: account.email ?? `${id}@example.test`,
            email_verified: true,
            name: account.name ?? id,
            groups: account.groups ?? [],
          };
        },
      };
    },
  };
  const provider = new Provider(issuer, configuration);
  // The dev interactions warn on every start; tests do not need the noise.
  const server: Server = await new Promise((resolve) => {
    const s = provider.listen(port, '127.0.0.1', () => resolve(s));
  });
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A browser without a browser: follows redirects by hand, keeps cookies per host (as
 * browsers do, across ports), and submits the provider's login and consent forms.
 */
export class Browser {
  readonly cookies = new Map<string, Map<string, string>>();
  /** Every URL requested, in order (tests grep logs for the codes they carried). */
  readonly visited: string[] = [];

  private cookieHeader(url: URL): string {
    const jar = this.cookies.get(url.hostname);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  private remember(url: URL, response: Response) {
    const jar = this.cookies.get(url.hostname) ?? new Map<string, string>();
    this.cookies.set(url.hostname, jar);
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0\b|expires=thu, 01 jan 1970/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }

  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const target = new URL(url);
    this.visited.push(target.toString());
    const headers: Record<string, string> = { cookie: this.cookieHeader(target) };
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await fetch(target, { method: init.method ?? 'GET', headers, body, redirect: 'manual' });
    this.remember(target, response);
    return response;
  }

  /**
   * Opens `url` and goes where it leads, logging in as `login` on the provider's pages,
   * until a redirect leaves for a URL `isDone` accepts (the app's return_to) or a page
   * that is not one of the provider's forms. Returns that URL and the last response.
   */
  async signIn(
    url: string,
    login: string,
    isDone: (url: URL) => boolean,
  ): Promise<{ url: URL; response: Response; body: string }> {
    let current = new URL(url);
    let init: { method?: string; form?: Record<string, string> } = {};
    for (let step = 0; step < 20; step++) {
      const response = await this.request(current.toString(), init);
      init = {};
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, current);
        if (isDone(next)) return { url: next, response, body: await response.text() };
        current = next;
        continue;
      }
      const body = await response.text();
      const form = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(body);
      if (response.status !== 200 || !form) return { url: current, response, body };
      const fields: Record<string, string> = {};
      for (const input of body.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
        fields[input[1]!] = input[2]!;
      }
      if (fields.prompt === 'login') Object.assign(fields, { login, password: 'any' });
      current = new URL(form[1]!.replace(/&amp;/g, '&'), current);
      init = { method: 'POST', form: fields };
    }
    throw new Error(`sign-in did not finish in 20 steps (at ${current})`);
  }
}
