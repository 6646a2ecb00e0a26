import { z } from 'zod';

/**
 * The OCI registry face (src/registry): the Distribution Spec v1.1 over the store, on its own
 * mTLS listener admitted like the gRPC one. Off until configured.
 */
export const registrySchema = z.strictObject({
  enabled: z.boolean().default(false),
  host: z.string().min(1).default('0.0.0.0'),
  port: z.number().int().min(0).max(65535).default(8445),
  /**
   * The token endpoint URL sent in `WWW-Authenticate: Bearer realm=…` challenges. Default:
   * `https://<the request's Host>/token` of this listener.
   */
  realm: z.string().url().optional(),
  /** The `service` of the challenges and of the token endpoint. Default: identity.trustDomain. */
  service: z.string().min(1).max(255).optional(),
  /** Largest manifest accepted by a PUT (bytes). */
  maxManifestBytes: z.number().int().min(1024).max(4 * 1024 * 1024).default(4 * 1024 * 1024),
  /**
   * Most named tags (`:v1`, `:latest`) one namespace holds (a new one beyond is refused), and
   * most CID tags one tags list gathers (records of one namespace; more are cut, in List order).
   */
  maxTags: z.number().int().min(1).max(100_000).default(10_000),
  /**
   * Most manifests kept as pushed one namespace holds (images of several layers or none, image
   * indexes: those that are not one record); a new one beyond is refused.
   */
  maxManifests: z.number().int().min(1).max(100_000).default(10_000),
});
