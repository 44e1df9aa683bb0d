import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TlsIdentity {
  key: string;
  cert: string;
}

/**
 * The certificate the gateway presents to clients that ask for TLS. A configured
 * pair (WARDEN_TLS_CERT / WARDEN_TLS_KEY files) wins; otherwise a self-signed one is
 * generated once into the data directory and reused, so `sslmode=require` works out
 * of the box and the fingerprint stays stable across restarts.
 */
export async function loadTlsIdentity(options: {
  dataDir: string;
  certFile?: string;
  keyFile?: string;
}): Promise<TlsIdentity> {
  if (options.certFile && options.keyFile) {
    return { cert: readFileSync(options.certFile, 'utf8'), key: readFileSync(options.keyFile, 'utf8') };
  }
  const certPath = path.join(options.dataDir, 'gateway-tls.crt');
  const keyPath = path.join(options.dataDir, 'gateway-tls.key');
  if (existsSync(certPath) && existsSync(keyPath)) {
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  }
  // Loaded only to generate: the certificate library and its ASN.1 stack are ~17 MB of resident
  // memory that a gateway reusing its certificate never needs.
  // A CommonJS module: `default` is its exports both under Node and in the esbuild bundle (where
  // the named export is not there).
  const { generate } = (await import('selfsigned')).default;
  const notAfterDate = new Date(Date.now() + 5 * 365 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'warden-gateway' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  mkdirSync(options.dataDir, { recursive: true });
  writeFileSync(certPath, pems.cert);
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  return { cert: pems.cert, key: pems.private };
}
