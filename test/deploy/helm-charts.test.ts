import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/processes.js';

// No helm binary exists on the build machines: the charts are checked here instead of rendered.
// values.yaml and every examples/*.yaml must validate against the chart's values.schema.json,
// and every .Values path a template uses must exist in the schema and in values.yaml.

type Schema = {
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  $ref?: string;
  $defs?: Record<string, Schema>;
};

const helmDir = join(repoRoot, 'deploy/helm');
const charts = readdirSync(helmDir).filter((d) => existsSync(join(helmDir, d, 'Chart.yaml')));

function readYaml(path: string): unknown {
  return parse(readFileSync(path, 'utf8'));
}

function validator(chart: string) {
  const schema = JSON.parse(readFileSync(join(helmDir, chart, 'values.schema.json'), 'utf8')) as Schema;
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  return { schema, validate: ajv.compile(schema) };
}

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('\n');
}

/** The schema node at a dotted values path, following $refs into $defs; undefined when not allowed. */
function schemaAt(root: Schema, path: string[]): Schema | undefined {
  let node: Schema | undefined = root;
  for (const key of path) {
    while (node?.$ref) node = root.$defs?.[node.$ref.replace('#/$defs/', '')];
    if (!node) return undefined;
    const next: Schema | undefined =
      node.properties?.[key] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
    if (!next) return undefined;
    node = next;
  }
  return node;
}

function valueAt(values: unknown, path: string[]): unknown {
  let node = values;
  for (const key of path) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  return node;
}

function templatePaths(chart: string): string[][] {
  const dir = join(helmDir, chart, 'templates');
  const paths = new Map<string, string[]>();
  for (const file of readdirSync(dir)) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const match of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      const path = match[1]!.slice(1).split('.');
      paths.set(path.join('.'), path);
    }
  }
  return [...paths.values()];
}

describe.each(charts)('chart %s', (chart) => {
  const { schema, validate } = validator(chart);
  const examples = readdirSync(join(helmDir, chart, 'examples')).filter((f) => f.endsWith('.yaml'));

  it('has a README saying there is no helm binary here, values, a schema and examples', () => {
    expect(readFileSync(join(helmDir, chart, 'README.md'), 'utf8')).toMatch(/no `?helm`? binary/i);
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(['values.yaml', ...examples.map((e) => `examples/${e}`)])(
    '%s validates against values.schema.json',
    (file) => {
      const values = readYaml(join(helmDir, chart, file));
      const ok = validate(values);
      expect(describeErrors(validate.errors), file).toBe('');
      expect(ok).toBe(true);
    },
  );

  it('refuses a misspelt key and an unsafe security context', () => {
    const values = readYaml(join(helmDir, chart, 'values.yaml')) as Record<string, unknown>;
    expect(validate({ ...values, replicaz: 3 })).toBe(false);
    expect(
      validate({ ...values, securityContext: { readOnlyRootFilesystem: false, allowPrivilegeEscalation: false } }),
    ).toBe(false);
    expect(validate({ ...values, podSecurityContext: { runAsNonRoot: false } })).toBe(false);
  });

  it('templates use only values the schema and values.yaml define', () => {
    const values = readYaml(join(helmDir, chart, 'values.yaml'));
    const paths = templatePaths(chart);
    expect(paths.length).toBeGreaterThan(5);
    const missingInSchema = paths.filter((p) => !schemaAt(schema, p)).map((p) => p.join('.'));
    const missingInValues = paths.filter((p) => valueAt(values, p) === undefined).map((p) => p.join('.'));
    expect(missingInSchema).toEqual([]);
    expect(missingInValues).toEqual([]);
  });
});

describe('chart specifics', () => {
  it('the agent key is only ever a Secret reference', () => {
    const { validate } = validator('warden-agent');
    const values = readYaml(join(helmDir, 'warden-agent/values.yaml')) as Record<string, unknown>;
    expect(validate({ ...values, agentKey: { existingSecret: 's', key: 'k', value: 'wda_secret' } })).toBe(false);
    expect(validate({ ...values, env: { WARDEN_AGENT_KEY: 'wda_secret' } })).toBe(false);
    expect(validate({ ...values, gatewayAddresses: [] })).toBe(false);
    const deployment = readFileSync(join(helmDir, 'warden-agent/templates/deployment.yaml'), 'utf8');
    expect(deployment).toContain('WARDEN_AGENT_KEY_FILE');
    expect(deployment).toMatch(/secretName: \{\{ \.Values\.agentKey\.existingSecret \}\}/);
  });

  it('the control-plane secrets are not chart values', () => {
    const { validate } = validator('warden');
    const values = readYaml(join(helmDir, 'warden/values.yaml')) as Record<string, unknown>;
    expect(validate({ ...values, config: { WARDEN_SECRET_KEY: 'x' } })).toBe(false);
    expect(validate({ ...values, databaseUrl: 'postgres://...' })).toBe(false);
  });
});

describe('Dockerfiles', () => {
  it.each(['warden.Dockerfile', 'agent.Dockerfile'])('%s is multi-stage and runs as a non-root user', (file) => {
    const text = readFileSync(join(repoRoot, 'deploy/docker', file), 'utf8');
    expect(text.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^USER (node|[1-9][0-9]*)/m);
    expect(text).not.toMatch(/^USER root/m);
  });
});
