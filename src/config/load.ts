import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { ParleyError } from '../common';
import { configSchema, type ParleyConfig } from './schema';
import { didYouMean } from './did-you-mean';
import { configLeaves, type ConfigLeaf } from './schema-walk';
import { locateYamlProblem } from './yaml-problem';

export const DEFAULT_CONFIG_FILE = 'parley.yaml';
/** Environment variables read by the loader itself or by the CLI (`dev issue --p12`, the client identity, stack traces) rather than mapped onto a key. */
const RESERVED_ENV = new Set(['PARLEY_CONFIG', 'PARLEY_P12_PASSWORD', 'PARLEY_IDENTITY', 'PARLEY_DEBUG']);

export interface LoadOptions {
  /** Explicit config file (`--config`); otherwise PARLEY_CONFIG, then ./parley.yaml if present. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Checks of parts the schema leaves open (e.g. authz.policy.rules, judged by src/authz), run
   * on the merged input; their problems are reported with the schema's, all at once.
   */
  checks?: ReadonlyArray<(raw: Readonly<Record<string, unknown>>) => string[]>;
}

export interface LoadedConfig {
  config: ParleyConfig;
  /** The file that was read, if any. */
  file?: string;
  /** Which keys came from the environment (path -> variable name). */
  fromEnv: Map<string, string>;
}

export class ConfigError extends ParleyError {
  readonly problems: ReadonlyArray<string>;
  constructor(problems: string[], source: string) {
    super('config_invalid', `invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** Loads, merges and validates the configuration once; throws ConfigError listing every problem. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = resolveConfigFile(options.file ?? env.PARLEY_CONFIG, cwd);
  const raw: Record<string, unknown> = file ? readYamlFile(file) : {};
  const leaves = configLeaves(configSchema);
  const { fromEnv, problems } = applyEnv(raw, env, leaves);
  // An unknown PARLEY_* variable is the environment's problem too, though it set nothing.
  const fromEnvironment = fromEnv.size > 0 || problems.length > 0;
  const source = file ? `file ${file}${fromEnvironment ? ' and environment' : ''}` : fromEnvironment ? 'environment' : 'defaults';
  const result = configSchema.safeParse(raw);
  if (!result.success) problems.push(...describeIssues(result.error.issues, fromEnv, leaves));
  for (const check of options.checks ?? []) problems.push(...check(raw));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems, source);
  const config = result.data;
  config.dataDir = resolve(cwd, config.dataDir);
  return { config, file, fromEnv };
}

function resolveConfigFile(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit !== undefined && explicit !== '') {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw new ConfigError([`config file ${path}: not found`], 'command line');
    return path;
  }
  const fallback = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(fallback) ? fallback : undefined;
}

function readYamlFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`config file ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`], path);
  }
  // Parse without echoing the source: YAML error messages quote the offending line, which may hold a secret.
  const doc = YAML.parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  // The parser often reports one mistake several times (and follow-on errors after it): the first says where.
  const problem = locateYamlProblem(text, doc.errors);
  if (problem !== undefined) {
    throw new ConfigError([`config file ${path}: invalid YAML at line ${problem.line}, column ${problem.col}: ${problem.problem}`], path);
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError([`config file ${path}: the top level must be a mapping of keys`], path);
  }
  return value as Record<string, unknown>;
}

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, leaves: ConfigLeaf[]) {
  const byEnv = new Map(leaves.map((l) => [l.env, l]));
  const fromEnv = new Map<string, string>();
  const problems: string[] = [];
  const set = (leaf: ConfigLeaf, name: string, value: string) => {
    let target = raw;
    for (const key of leaf.path.slice(0, -1)) {
      const next = target[key];
      if (next === undefined || next === null) target[key] = {};
      else if (typeof next !== 'object' || Array.isArray(next)) {
        problems.push(`${name}: cannot override ${leaf.path.join('.')} because ${key} in the file is not a mapping`);
        return;
      }
      target = target[key] as Record<string, unknown>;
    }
    target[leaf.path[leaf.path.length - 1]] = coerceEnv(leaf, value);
    fromEnv.set(leaf.path.join('.'), name);
  };
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PARLEY_') || RESERVED_ENV.has(name) || value === undefined) continue;
    const leaf = byEnv.get(name);
    if (!leaf) problems.push(`${name}: unknown environment variable (no such configuration key)${didYouMean(name, byEnv.keys())}`);
    else set(leaf, name, value);
  }
  const dbUrl = env.DATABASE_URL;
  if (dbUrl !== undefined && dbUrl !== '') {
    const leaf = leaves.find((l) => l.path.join('.') === 'database.url');
    if (leaf) set(leaf, 'DATABASE_URL', dbUrl);
  }
  return { fromEnv, problems };
}

/** Strings stay strings; numbers, booleans and lists are read as YAML scalars/flow sequences. */
function coerceEnv(leaf: ConfigLeaf, value: string): unknown {
  if (leaf.kind === 'string' || leaf.kind === 'enum') return value;
  try {
    return YAML.parse(value, { prettyErrors: false });
  } catch {
    return value; // let the schema report the type mismatch
  }
}

function describeIssues(issues: z.core.$ZodIssue[], fromEnv: Map<string, string>, leaves: ConfigLeaf[]): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const known = siblingKeys(leaves, issue.path.map(String));
      return issue.keys.map((k) => `${[...issue.path, k].join('.')}: unknown key${didYouMean(k, known)}`);
    }
    const path = issue.path.join('.') || '(top level)';
    const env = fromEnv.get(path);
    return [`${path}${env ? ` (from ${env})` : ''}: ${issue.message}`];
  });
}

/** The keys the schema accepts directly under `path` (none for paths into lists). */
function siblingKeys(leaves: ConfigLeaf[], path: string[]): Set<string> {
  const keys = new Set<string>();
  for (const leaf of leaves) {
    if (leaf.path.length > path.length && path.every((p, i) => leaf.path[i] === p)) keys.add(leaf.path[path.length]);
  }
  return keys;
}
