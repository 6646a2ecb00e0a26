import { z } from 'zod';
import { SpiffeId } from '../spiffe';

/** A SPIFFE ID with a non-empty path (validated by the SPIFFE core). */
export const spiffeIdString = z.string().refine((s) => {
  try {
    return SpiffeId.parse(s).path !== '';
  } catch {
    return false;
  }
}, 'must be a SPIFFE ID with a path, e.g. spiffe://example.org/ns/ops/admin');

/** A SPIFFE ID used as a path prefix (matched on `/` boundaries); `spiffe://example.org` is the whole trust domain. */
const spiffeIdPrefixString = z.string().refine((s) => SpiffeId.tryParse(s) !== undefined, 'must be a SPIFFE ID used as a path prefix, e.g. spiffe://example.org/ns/ops (no trailing slash)');

/**
 * The admin role names the configuration accepts. The admin context maps them to permissions
 * (src/admin/domain/roles.ts; its spec checks both lists agree).
 */
export const ADMIN_ROLE_NAMES = ['viewer', 'operator', 'security', 'admin'] as const;

const roleBinding = z
  .strictObject({
    role: z.enum(ADMIN_ROLE_NAMES, { error: `must be one of ${ADMIN_ROLE_NAMES.join(', ')}` }),
    /** Exactly these SPIFFE IDs hold the role. */
    spiffeIds: z.array(spiffeIdString).max(1000).default([]),
    /** IDs at or below these prefixes (on `/` boundaries, within the prefix's trust domain) hold the role. */
    spiffeIdPrefixes: z.array(spiffeIdPrefixString).max(1000).default([]),
  })
  .refine((b) => b.spiffeIds.length + b.spiffeIdPrefixes.length > 0, 'must name at least one of spiffeIds, spiffeIdPrefixes');

export const adminSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** The control plane stays on loopback unless configured otherwise. */
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8444),
  /** SPIFFE IDs holding role admin. When neither admins nor roles is set: spiffe://<identity.trustDomain>/parley/admin. */
  admins: z.array(spiffeIdString).optional(),
  /** Role bindings: `[{ role: viewer | operator | security | admin, spiffeIds: [...], spiffeIdPrefixes: [...] }]`. */
  roles: z.array(roleBinding).max(100).optional(),
  /** Largest JSON request body (bytes); a larger one is 413 and its connection is closed. Read only after the caller is known to be an admin. */
  maxBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(2 * 1024 * 1024),
  /** Deepest nesting of JSON objects and arrays in a request body, measured before parsing; deeper is 400. */
  maxJsonDepth: z.number().int().min(2).max(128).default(32),
});
