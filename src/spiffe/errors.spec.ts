import { isSpiffeError, SPIFFE_ERROR_CODES, SpiffeError, SpiffeErrorCode } from './index';

describe('SpiffeError', () => {
  it('has a closed, duplicate-free list of snake_case codes', () => {
    expect(new Set(SPIFFE_ERROR_CODES).size).toBe(SPIFFE_ERROR_CODES.length);
    for (const code of SPIFFE_ERROR_CODES) expect(code).toMatch(/^[a-z0-9]+(_[a-z0-9]+)*$/);
    // A mapping table must name every code; this fails to compile when a code is added.
    const httpStatus = {
      invalid_spiffe_id: 400, invalid_trust_domain: 400, invalid_path: 400, malformed_certificate: 400,
      malformed_key: 400, no_certificates: 400, no_private_key: 400, key_mismatch: 400, leaf_no_uri_san: 401,
      leaf_multiple_uri_sans: 401, leaf_empty_path: 401, leaf_is_ca: 401, leaf_key_usage_missing: 401,
      leaf_no_digital_signature: 401, leaf_key_cert_sign: 401, leaf_crl_sign: 401, unknown_trust_domain: 401,
      chain_unverified: 401, certificate_expired: 401, certificate_not_yet_valid: 401, intermediate_not_ca: 401,
      intermediate_no_key_cert_sign: 401, path_length_exceeded: 401, name_constraints_violated: 401,
      unsupported_critical_extension: 401, eku_missing_purpose: 401, malformed_bundle: 502,
      invalid_workload_endpoint: 500,
    } satisfies Record<SpiffeErrorCode, number>;
    expect(Object.keys(httpStatus).sort()).toEqual([...SPIFFE_ERROR_CODES].sort());
  });

  it('carries code, frozen details and cause', () => {
    const cause = new Error('inner');
    const err = new SpiffeError('chain_unverified', 'cannot verify x509-svid: no path', { spiffeId: 'spiffe://a/b' }, { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('SpiffeError');
    expect(err.code).toBe('chain_unverified');
    expect(err.details).toEqual({ spiffeId: 'spiffe://a/b' });
    expect(Object.isFrozen(err.details)).toBe(true);
    expect(err.cause).toBe(cause);
    expect(isSpiffeError(err)).toBe(true);
    expect(isSpiffeError(err, 'chain_unverified')).toBe(true);
    expect(isSpiffeError(err, 'leaf_is_ca')).toBe(false);
    expect(isSpiffeError(cause)).toBe(false);
  });
});
