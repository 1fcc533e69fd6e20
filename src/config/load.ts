/**
 * Builds the frozen `Config`: defaults, then the YAML file named by REGISTRY_CONFIG (alias
 * DOCKER_REGISTRY_CONFIG), then environment variables. No other module reads the environment.
 */
import { readFileSync } from 'node:fs';
import { isPostgresUrl, settings, type Config, type SettingName, type SettingSpec } from './schema.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

function coerce(name: string, spec: SettingSpec<unknown>, raw: unknown, from: string): unknown {
  const bad = (why: string) => new ConfigError(`setting ${name} (from ${from}): ${why}, got ${JSON.stringify(raw)}`);
  switch (spec.kind) {
    case 'string':
      if (raw === null) return '';
      if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
      throw bad('expected a string');
    case 'enum': {
      const v = String(raw).toLowerCase();
      if (!spec.choices?.includes(v)) throw bad(`expected one of ${spec.choices?.join(', ')}`);
      return v;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const v = String(raw).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
      throw bad('expected true or false');
    }
    case 'int':
    case 'bytes': {
      let n: number;
      if (typeof raw === 'number') n = raw;
      else {
        const m = /^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$/i.exec(String(raw));
        if (!m || (spec.kind === 'int' && (m[2] || m[3]))) throw bad('expected a whole number');
        n = Number(m[1]) * (BYTE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1);
      }
      if (!Number.isSafeInteger(n)) throw bad('expected a whole number');
      if (spec.min !== undefined && n < spec.min) throw bad(`must be at least ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw bad(`must be at most ${spec.max}`);
      return n;
    }
  }
}

/**
 * Settings named `group.key` (e.g. `mirroring.source`) are written in YAML as the original wrote
 * them, a mapping under the group (`mirroring: {source: …}`), or flat with the dotted name.
 */
function flattenGroups(doc: Record<string, unknown>): Record<string, unknown> {
  const groups = new Set(Object.keys(settings).filter((k) => k.includes('.')).map((k) => k.split('.')[0]));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (groups.has(k) && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [sub, value] of Object.entries(v as Record<string, unknown>)) out[`${k}.${sub}`] = value;
    } else if (groups.has(k) && v === null) {
      continue;
    } else out[k] = v;
  }
  return out;
}

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** explicit overrides (tests), applied last */
  overrides?: Partial<Record<SettingName, unknown>>;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = env.REGISTRY_CONFIG || env.DOCKER_REGISTRY_CONFIG;
  let fromFile: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = Bun.YAML.parse(text);
    } catch (e) {
      throw new ConfigError(`config file ${file} is not valid YAML: ${(e as Error).message}`);
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${file} must be a mapping`);
      fromFile = flattenGroups(doc as Record<string, unknown>);
      const unknown = Object.keys(fromFile).filter((k) => !(k in settings));
      if (unknown.length) throw new ConfigError(`config file ${file}: unknown setting(s) ${unknown.join(', ')}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(settings) as [SettingName, SettingSpec<unknown>][]) {
    let value: unknown = typeof spec.default === 'function' ? (spec.default as () => unknown)() : spec.default;
    if (name in fromFile) value = coerce(name, spec, fromFile[name], file ?? 'file');
    const envName = spec.env.find((e) => env[e] !== undefined && env[e] !== '');
    if (envName) value = coerce(name, spec, env[envName], envName);
    if (options.overrides && name in options.overrides) value = coerce(name, spec, options.overrides[name], 'override');
    out[name] = value;
  }
  const db = String(out.db).trim();
  if (isPostgresUrl(db) && (!URL.canParse(db) || new URL(db).host === '')) {
    throw new ConfigError('setting db: not a valid postgres:// URL');
  }
  // Nodes sharing one PostgreSQL database serve each other's clients: a secret generated per
  // node (under its own storage_path) would make every node refuse the others' tokens.
  if (out.auth === 'token' && isPostgresUrl(db) && String(out.token_secret) === '') {
    throw new ConfigError('auth token with a postgres:// db needs token_secret (REGISTRY_TOKEN_SECRET): every node must sign and check tokens with the same secret');
  }
  for (const key of ['mirroring.source', 'mirroring.source_index'] as const) {
    const url = String(out[key]).trim();
    if (url !== '' && (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))) {
      throw new ConfigError(`setting ${key}: not an http:// or https:// URL`);
    }
  }
  if (out.storage === 's3') {
    const missing = (['s3_bucket', 's3_region'] as const).filter((k) => String(out[k]).trim() === '');
    if (missing.length) {
      const names = missing.map((k) => `${k} (${settings[k].env[0]})`).join(' and ');
      throw new ConfigError(`storage s3 needs ${names}`);
    }
  }
  return Object.freeze(out) as Config;
}
