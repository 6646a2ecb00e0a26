import { readFileSync } from 'node:fs';
import type { SyncRequestInput } from './domain/sync-request';

interface FieldError {
  field: string;
  message: string;
}

const MAX_FILE_BYTES = 256 * 1024;

/**
 * The files an OCI source may name on this gateway's host (`credentials.basic.passwordFile`,
 * `credentials.bearer.tokenFile`, `caFile`), read into the values they stand for (a trailing
 * newline dropped). Errors name the field, never the file's content.
 */
export function readSourceFiles(input: SyncRequestInput): { input: SyncRequestInput; errors: FieldError[] } {
  const source = input.source;
  if (typeof source !== 'object' || source === null) return { input, errors: [] };
  const errors: FieldError[] = [];
  const read = (value: unknown, field: string): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') return (errors.push({ field, message: 'must be a file path' }), undefined);
    try {
      const text = readFileSync(value, 'utf8');
      if (text.length > MAX_FILE_BYTES) return (errors.push({ field, message: `larger than ${MAX_FILE_BYTES} bytes` }), undefined);
      return text.replace(/\r?\n$/, '');
    } catch (err) {
      errors.push({ field, message: `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      return undefined;
    }
  };
  const s = source as Record<string, unknown> & { credentials?: { basic?: Record<string, unknown>; bearer?: Record<string, unknown> } };
  const out: Record<string, unknown> = { ...s };
  const ca = read(s.caFile, 'source.caFile');
  if (ca !== undefined) out.ca = ca;
  delete out.caFile;
  const basic = s.credentials?.basic;
  const bearer = s.credentials?.bearer;
  if (typeof basic === 'object' && basic !== null && basic.passwordFile !== undefined) {
    const { passwordFile, ...rest } = basic;
    out.credentials = { ...s.credentials, basic: { ...rest, password: read(passwordFile, 'source.credentials.basic.passwordFile') } };
  }
  if (typeof bearer === 'object' && bearer !== null && bearer.tokenFile !== undefined) {
    const { tokenFile, ...rest } = bearer;
    out.credentials = { ...s.credentials, bearer: { ...rest, token: read(tokenFile, 'source.credentials.bearer.tokenFile') } };
  }
  return { input: { ...input, source: out }, errors };
}
