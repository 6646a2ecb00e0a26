import { formatDuration } from './duration';
import type { ParleyConfig } from './schema';
import { configSchema } from './schema';
import { configLeaves } from './schema-walk';

export const REDACTED = '[redacted]';

/** A deep copy of the config with every secret leaf masked (URLs keep all but the password). */
export function redactConfig(config: ParleyConfig): Record<string, unknown> {
  const copy = structuredClone(config) as Record<string, unknown>;
  for (const leaf of configLeaves(configSchema)) {
    if (!leaf.secret) continue;
    let target: Record<string, unknown> | undefined = copy;
    for (const key of leaf.path.slice(0, -1)) target = target?.[key] as Record<string, unknown> | undefined;
    const last = leaf.path[leaf.path.length - 1];
    if (!target || target[last] === undefined) continue;
    target[last] = leaf.secret === 'url-password' ? redactUrlPassword(String(target[last])) : REDACTED;
  }
  return copy;
}

export function redactUrlPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'REDACTED';
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|key|token/i.test(key)) u.searchParams.set(key, 'REDACTED');
    }
    return u.toString();
  } catch {
    return REDACTED;
  }
}

/** A copy of a (redacted) config with every duration written as in the file (`1h`, not 3600000). */
export function durationsAsWritten(config: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(config);
  for (const leaf of configLeaves(configSchema)) {
    if (!leaf.duration) continue;
    let target: Record<string, unknown> | undefined = copy;
    for (const key of leaf.path.slice(0, -1)) target = target?.[key] as Record<string, unknown> | undefined;
    const last = leaf.path[leaf.path.length - 1];
    const value = target?.[last];
    if (target && typeof value === 'number') target[last] = formatDuration(value);
  }
  return copy;
}
