/**
 * Public JSON Web Keys via node:crypto. Only public keys of kty EC, RSA and OKP are accepted;
 * a JWK carrying private members is refused rather than silently trimmed.
 */
import { createPublicKey, KeyObject } from 'node:crypto';

export const SUPPORTED_KTY: ReadonlySet<string> = new Set(['EC', 'RSA', 'OKP']);
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** Public key parameters only, e.g. `{ kty: 'EC', crv: 'P-256', x, y }`. */
export type PublicJwk = Readonly<Record<string, string>>;

/** Imports a public JWK; returns the key or the reason it cannot be used. */
export function importPublicJwk(entry: Record<string, unknown>): KeyObject | string {
  for (const member of PRIVATE_MEMBERS) {
    if (member in entry) return 'jwk contains private key material';
  }
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(entry)) {
    if (name === 'kty' || name === 'crv' || name === 'x' || name === 'y' || name === 'n' || name === 'e') {
      if (typeof value !== 'string') return `jwk member "${name}" is not a string`;
      params[name] = value;
    }
  }
  try {
    const key = createPublicKey({ key: params, format: 'jwk' });
    return key.type === 'public' ? key : 'jwk is not a public key';
  } catch {
    return 'jwk key parameters are invalid';
  }
}

/** The canonical public JWK of a public key. */
export function publicJwk(key: KeyObject): PublicJwk {
  const jwk = key.export({ format: 'jwk' });
  const out: Record<string, string> = {};
  for (const name of ['kty', 'crv', 'x', 'y', 'n', 'e']) {
    const value = (jwk as Record<string, unknown>)[name];
    if (typeof value === 'string') out[name] = value;
  }
  return Object.freeze(out);
}
