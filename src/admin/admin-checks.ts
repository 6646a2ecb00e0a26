/**
 * Domain parsers as field checks for the admin DTOs (admin-fields.ts `check`): each returns
 * why the text is wrong, in the words the API has always used, or undefined.
 */
import { namespaceError, parseRfc3339 } from '../authz';
import { SpiffeId } from '../spiffe';

export const RFC3339_MESSAGE = 'must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z';

export function rfc3339Error(text: string): string | undefined {
  return parseRfc3339(text) === undefined ? RFC3339_MESSAGE : undefined;
}

/** The SPIFFE core's reason (it names the rule broken, never more than the input). */
export function spiffeIdError(text: string): string | undefined {
  try {
    SpiffeId.parse(text);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : 'not a SPIFFE ID';
  }
}

/** The store's namespace rule. */
export function namespaceTextError(text: string): string | undefined {
  const why = namespaceError(text);
  return why === undefined ? undefined : `must be a namespace like "team" or "team/ml": ${why}`;
}

export function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
