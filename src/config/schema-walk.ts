import type { z } from 'zod';
import { duration } from './duration';
import { secretRegistry, type SecretKind } from './secret';

/** One settable leaf of the config schema, with the environment variable that overrides it. */
export interface ConfigLeaf {
  path: string[];
  /** Base type of the leaf after unwrapping defaults and optionals. */
  kind: 'string' | 'number' | 'boolean' | 'array' | 'enum' | 'other';
  env: string;
  secret?: SecretKind;
  /** A duration (milliseconds once loaded; written as `90s`, `1h`…). */
  duration?: true;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  /** A pipe's input (`duration.pipe(z.number().max(…))`). */
  in?: z.ZodType;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch']);

/** Enumerates the leaves of an object schema (objects are descended into, not leaves). */
export function configLeaves(schema: z.ZodType, prefix: string[] = [], envPrefix = 'PARLEY'): ConfigLeaf[] {
  let current = schema;
  let secret = secretRegistry.get(current)?.secret;
  let def = defOf(current);
  while (WRAPPERS.has(def.type) && def.innerType) {
    current = def.innerType;
    secret ??= secretRegistry.get(current)?.secret;
    def = defOf(current);
  }
  if (def.type === 'object' && def.shape) {
    return Object.entries(def.shape).flatMap(([key, child]) => configLeaves(child, [...prefix, key], envPrefix));
  }
  const kind = (['string', 'number', 'boolean', 'array', 'enum'] as const).find((k) => k === def.type) ?? 'other';
  const leaf: ConfigLeaf = { path: prefix, kind, env: envName(envPrefix, prefix) };
  if (secret) leaf.secret = secret;
  if (current === duration || (def.type === 'pipe' && def.in === duration)) leaf.duration = true;
  return [leaf];
}

/** `database.migrationsRun` -> `PARLEY_DATABASE_MIGRATIONS_RUN`. */
export function envName(envPrefix: string, path: string[]): string {
  return [envPrefix, ...path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())].join('_');
}
