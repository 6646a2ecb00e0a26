import { z } from 'zod';
import { secret } from './secret';

const MiB = 1024 * 1024;

/**
 * Where record payloads live (`store.payloads`) and the S3-compatible object store's
 * settings (`store.s3`). Credentials come from `accessKeyId`/`secretAccessKey` (best set
 * through PARLEY_STORE_S3_ACCESS_KEY_ID / PARLEY_STORE_S3_SECRET_ACCESS_KEY), from files, or,
 * when none is given, from the AWS SDK's default chain (AWS_* variables, shared files, instance
 * roles). They are secrets: never printed by `parley config print`, never in errors.
 */
export const s3Schema = z
  .strictObject({
    /** Endpoint URL (https://s3.eu-west-1.amazonaws.com, https://minio.example:9000, …); absent: AWS S3 of `region`. */
    endpoint: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    region: z.string().min(1).default('us-east-1'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 characters a-z 0-9 . -)'),
    /** Prefix of every object key the gateway writes (e.g. `parley/`). */
    keyPrefix: z.string().max(512).regex(/^[^\\]*$/, 'must not contain a backslash').default('parley/'),
    /** Path-style addressing (endpoint/bucket/key), needed by MinIO, Ceph RGW and SeaweedFS; AWS S3 uses virtual hosts. */
    forcePathStyle: z.boolean().default(false),
    /** Size of one multipart upload part (bytes); S3 wants at least 5 MiB (but the last). */
    partBytes: z.number().int().min(5 * MiB).max(5 * 1024 * MiB).default(8 * MiB),
    /**
     * Parts of one upload sent at once (a Push reads on while they upload). A push holds up to
     * (partsInFlight + 1) x partBytes, reserved from store.uploadBufferBytes before it reads.
     */
    partsInFlight: z.number().int().min(1).max(16).default(3),
    accessKeyId: secret(z.string().min(1).optional()),
    secretAccessKey: secret(z.string().min(1).optional()),
    sessionToken: secret(z.string().min(1).optional()),
    /** Files holding the access key id and secret access key (read at start; surrounding whitespace ignored). */
    accessKeyIdFile: z.string().min(1).optional(),
    secretAccessKeyFile: z.string().min(1).optional(),
    /** PEM file of extra CA certificates trusted for the endpoint (TLS verification stays on). */
    caFile: z.string().min(1).optional(),
    /** A request to the object store that takes longer than this fails (milliseconds). */
    requestTimeout: z.number().int().min(100).max(3_600_000).default(60_000),
  })
  .refine((s) => (s.accessKeyId === undefined) === (s.secretAccessKey === undefined), { message: 'accessKeyId and secretAccessKey go together' })
  .refine((s) => (s.accessKeyIdFile === undefined) === (s.secretAccessKeyFile === undefined), { message: 'accessKeyIdFile and secretAccessKeyFile go together' })
  .refine((s) => s.accessKeyId === undefined || s.accessKeyIdFile === undefined, { message: 'give the credentials as values or as files, not both' });

/** Fields spread into the store slice. */
export const payloadSettings = {
  /** Where payloads are stored: in PostgreSQL (chunk rows, the default) or in an S3-compatible object store (`store.s3`). */
  payloads: z.enum(['postgres', 's3']).default('postgres'),
  s3: s3Schema.optional(),
};

export type S3Config = z.output<typeof s3Schema>;
