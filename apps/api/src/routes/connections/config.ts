import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import type { SecretBox } from '@warden/runtime';
import { badRequest, type FieldError } from '../../errors.js';
import { requireAuthError } from './require-auth.js';
import { connectionTypes, type ConnectionTypeName } from './schemas.js';

/**
 * How one credential is kept in Connection.secrets: a reference the agent resolves,
 * or a literal sealed with the control plane's SecretBox (associated data: the field).
 */
export type StoredSecret = { source: 'env' | 'file'; ref: string } | { source: 'stored'; ciphertext: string };
export type StoredSecrets = Record<string, StoredSecret>;

/** What a response (and the audit log) may say about a credential: never its value. */
export interface SecretSummary {
  source: 'env' | 'file' | 'stored';
  ref?: string;
}

/** One credential touched by a create or update, as the audit log records it. */
export interface SecretChange {
  field: string;
  source: 'env' | 'file' | 'stored' | 'removed';
  ref?: string;
}

const ENV_REF = /^env:[A-Za-z_][A-Za-z0-9_]*$/;
const FILE_REF = /^file:\/[^\0\r\n]+$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers that carry credentials: they belong in the write-only `authorization` field. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads Connection.secrets defensively: anything not shaped like a StoredSecret is dropped. */
export function readSecrets(value: unknown): StoredSecrets {
  const out: StoredSecrets = {};
  if (!isObject(value)) return out;
  for (const [field, s] of Object.entries(value)) {
    if (!isObject(s)) continue;
    if ((s.source === 'env' || s.source === 'file') && typeof s.ref === 'string') {
      out[field] = { source: s.source, ref: s.ref };
    } else if (s.source === 'stored' && typeof s.ciphertext === 'string') {
      out[field] = { source: 'stored', ciphertext: s.ciphertext };
    }
  }
  return out;
}

export function summarizeSecrets(secrets: StoredSecrets): Record<string, SecretSummary> {
  return Object.fromEntries(
    Object.entries(secrets).map(([field, s]) => [
      field,
      s.source === 'stored' ? { source: 'stored' as const } : { source: s.source, ref: s.ref },
    ]),
  );
}

export function readObject(value: unknown): Json {
  return isObject(value) ? { ...value } : {};
}

/** Maps TypeBox validation errors to `body.config.<field>` details. Never echoes a value. */
function schemaErrors(schema: TSchema, value: unknown, base: string): FieldError[] {
  const out: FieldError[] = [];
  for (const error of Value.Errors(schema, value)) {
    const path = error.instancePath
      .split('/')
      .filter(Boolean)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const params = error.params as Record<string, unknown>;
    if (error.keyword === 'required' && Array.isArray(params.requiredProperties)) {
      for (const p of params.requiredProperties)
        out.push({ field: [base, ...path, String(p)].join('.'), message: 'is required' });
    } else if (error.keyword === 'additionalProperties' && Array.isArray(params.additionalProperties)) {
      for (const p of params.additionalProperties) {
        out.push({ field: [base, ...path, String(p)].join('.'), message: 'is not a known setting' });
      }
    } else if (error.keyword !== 'boolean') {
      out.push({ field: [base, ...path].join('.'), message: error.message });
    }
  }
  return out;
}

function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => (seen.has(e.field) ? false : (seen.add(e.field), true)));
}

export interface AppliedConfig {
  config: Json;
  secrets: StoredSecrets;
  changes: SecretChange[];
}

/**
 * Validates a connection's target settings for its type and splits them: plain
 * settings go to `config`, credentials to `secrets` (references kept as-is, literals
 * sealed). With `current`, `input` is merged into it: a key set to null is removed,
 * a secret left out is kept. Throws 400 with `body.config.<field>` details.
 */
export function applyConfig(
  type: ConnectionTypeName,
  input: Json,
  current: { config: Json; secrets: StoredSecrets } | null,
  secretBox: SecretBox,
): AppliedConfig {
  const spec = connectionTypes[type];
  const base = 'body.config';
  const known = new Set(Object.keys(spec.schema.properties));
  const secretFields = new Set(spec.secrets);
  const errors: FieldError[] = [];

  const plain: Json = { ...(current?.config ?? {}) };
  // Start from the current secrets; `incoming` holds only new literal/reference values.
  const keptSecrets: StoredSecrets = { ...(current?.secrets ?? {}) };
  const incoming: Record<string, string> = {};
  const removed: string[] = [];

  for (const [key, value] of Object.entries(input)) {
    if (!known.has(key)) {
      errors.push({ field: `${base}.${key}`, message: `is not a known ${type} setting` });
    } else if (secretFields.has(key)) {
      delete keptSecrets[key];
      if (value === null) {
        if (current?.secrets[key]) removed.push(key);
      } else if (typeof value === 'string') {
        incoming[key] = value;
      } else {
        errors.push({ field: `${base}.${key}`, message: 'must be a string' });
      }
    } else if (value === null) {
      delete plain[key];
    } else {
      plain[key] = value;
    }
  }
  // Secrets never live in config, even if an old row had one there.
  for (const field of secretFields) delete plain[field];

  // Validate what the connection will look like; kept secrets stand in as placeholders.
  const candidate: Json = { ...plain };
  for (const field of Object.keys(keptSecrets)) if (secretFields.has(field)) candidate[field] = 'kept';
  Object.assign(candidate, incoming);
  errors.push(...schemaErrors(spec.schema, candidate, base));

  for (const [field, value] of Object.entries(incoming)) {
    if (value.startsWith('env:') && !ENV_REF.test(value)) {
      errors.push({ field: `${base}.${field}`, message: 'an env reference must look like env:NAME' });
    } else if (value.startsWith('file:') && !FILE_REF.test(value)) {
      errors.push({ field: `${base}.${field}`, message: 'a file reference must look like file:/absolute/path' });
    } else if (field === 'privateKey' && !isReference(value) && !/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(value)) {
      errors.push({
        field: `${base}.${field}`,
        message: 'must be a PEM/OpenSSH private key or an env:/file: reference',
      });
    }
  }
  if (type === 'postgres' && typeof plain.sslrootcert === 'string') {
    const cert = plain.sslrootcert;
    if (!FILE_REF.test(cert) && !cert.trimStart().startsWith('-----BEGIN CERTIFICATE-----')) {
      errors.push({
        field: `${base}.sslrootcert`,
        message: 'must be a PEM certificate or a file:/absolute/path reference',
      });
    }
  }
  if (type === 'postgres' && typeof plain.require_auth === 'string') {
    const problem = requireAuthError(plain.require_auth);
    if (problem) errors.push({ field: `${base}.require_auth`, message: problem });
  }
  if (type === 'ssh' && candidate.passphrase !== undefined && candidate.privateKey === undefined) {
    errors.push({ field: `${base}.passphrase`, message: 'needs a privateKey' });
  }
  if (type === 'ssh') errors.push(...sshConfigErrors(candidate, base));
  if (type === 'http' && isObject(plain.headers)) {
    for (const name of Object.keys(plain.headers)) {
      if (!HEADER_NAME.test(name)) {
        errors.push({ field: `${base}.headers.${name}`, message: 'is not a valid header name' });
      } else if (CREDENTIAL_HEADERS.has(name.toLowerCase())) {
        errors.push({
          field: `${base}.headers.${name}`,
          message: 'carries credentials: set config.authorization (write-only) instead',
        });
      }
    }
  }
  if (errors.length) throw badRequest(`invalid config for a ${type} connection`, dedupe(errors));

  const config: Json = { ...spec.defaults, ...plain };
  const secrets: StoredSecrets = {};
  for (const [field, s] of Object.entries(keptSecrets)) if (secretFields.has(field)) secrets[field] = s;
  const changes: SecretChange[] = removed.map((field) => ({ field, source: 'removed' }));
  for (const [field, value] of Object.entries(incoming)) {
    const stored = storeSecret(field, value, secretBox);
    secrets[field] = stored;
    changes.push(
      stored.source === 'stored' ? { field, source: 'stored' } : { field, source: stored.source, ref: stored.ref },
    );
  }
  return { config, secrets, changes };
}

/**
 * What the SSH schema cannot say: the agent needs a credential, and a pinned host key
 * (fingerprint or known_hosts), since it refuses targets it cannot verify.
 */
function sshConfigErrors(candidate: Json, base: string): FieldError[] {
  const errors: FieldError[] = [];
  if (candidate.password === undefined && candidate.privateKey === undefined) {
    errors.push({ field: `${base}.password`, message: 'an ssh connection needs a password or a privateKey' });
  }
  if (candidate.hostKeyFingerprint === undefined && candidate.knownHosts === undefined) {
    errors.push({
      field: `${base}.hostKeyFingerprint`,
      message: "an ssh connection needs the target's host key: hostKeyFingerprint (SHA256:...) or knownHosts",
    });
  }
  if (typeof candidate.knownHosts === 'string') {
    const lines = candidate.knownHosts.split(/\r?\n/).filter((l) => l.trim() && !l.trim().startsWith('#'));
    if (!lines.length || lines.some((l) => l.trim().split(/\s+/).length < 3 && !l.trim().startsWith('@'))) {
      errors.push({
        field: `${base}.knownHosts`,
        message: 'must be known_hosts lines: "<hosts> <key type> <base64 key>"',
      });
    }
  }
  return errors;
}

function isReference(value: string): boolean {
  return ENV_REF.test(value) || FILE_REF.test(value);
}

function storeSecret(field: string, value: string, secretBox: SecretBox): StoredSecret {
  if (ENV_REF.test(value)) return { source: 'env', ref: value };
  if (FILE_REF.test(value)) return { source: 'file', ref: value };
  return { source: 'stored', ciphertext: secretBox.seal(value, field) };
}

/** Shallow merge for `options` patches: a key set to null is removed. */
export function mergeObject(current: Json, patch: Json): Json {
  const out = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = value;
  }
  return out;
}
