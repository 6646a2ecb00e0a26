import { z } from 'zod';
import { TrustDomain } from '../spiffe';
import { adminSchema, spiffeIdString } from './admin-schema';
import { duration } from './duration';
import { registrySchema } from './registry-schema';
import { secret } from './secret';
import { payloadSettings } from './store-payloads-schema';
import { syncSchema } from './sync-schema';

export { adminSchema, duration, syncSchema };

/**
 * The configuration schema: one strict object per module slice. Later modules add their
 * slice here; unknown keys are rejected everywhere so a typo never silently becomes a default.
 */

export { secretRegistry, type SecretKind } from './secret';

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);

const postgresUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be a postgres:// or postgresql:// URL with a host');


/** Trust domain name per SPIFFE (validated by the SPIFFE core), without spiffe://. */
const trustDomainName = z.string().refine((s) => {
  try {
    return TrustDomain.parse(s).name === s;
  } catch {
    return false;
  }
}, 'must be a SPIFFE trust domain name (a-z 0-9 . - _), without spiffe://');


/** A DNS host name for a certificate SAN: lowercase labels, no wildcard, no trailing dot. */
const dnsName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'must be a lowercase DNS name such as parley.example.org');

export const identitySchema = z.strictObject({
  /** The gateway's own trust domain. */
  trustDomain: trustDomainName.default('parley.local'),
  /** dev-ca: a local CA in the data directory (development); files: watched PEM files; workload-api: a SPIRE agent. */
  source: z.enum(['dev-ca', 'files', 'workload-api']).default('dev-ca'),
  /** The gateway's SPIFFE ID (dev-ca issues it; other sources must deliver it). Default spiffe://<trustDomain>/parley/gateway. */
  spiffeId: spiffeIdString.optional(),
  /** Warn when the SVID expires within this time and renewal is failing. */
  expiryWarning: duration.default(10 * 60_000),
  devCa: z
    .strictObject({
      svidTtl: duration.default(3_600_000),
      caTtl: duration.default(30 * 86_400_000),
      /** How long a new CA is published in the bundle before it signs anything. */
      caPublishLead: duration.default(3_600_000),
      /**
       * DNS names put in the gateway's SVID beside its SPIFFE ID, so stock gRPC clients
       * (grpcio, grpcurl, Java, C++) verify it with their ordinary host-name check.
       */
      dnsNames: z.array(dnsName).max(32).default([]),
    })
    .prefault({}),
  files: z
    .strictObject({
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      bundle: z.string().min(1).optional(),
      pollInterval: duration.default(1000),
    })
    .prefault({}),
  workloadApi: z
    .strictObject({
      /** unix:///path or tcp://ip:port; default $SPIFFE_ENDPOINT_SOCKET. */
      address: z.string().min(1).optional(),
      startTimeout: duration.default(30_000),
    })
    .prefault({}),
});

export const grpcSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** The data plane faces partners: all interfaces by default. */
  host: host.default('0.0.0.0'),
  port: port.default(8443),
  /** Largest gRPC message accepted or sent (bytes). */
  maxMessageBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
  /** HTTP/2 streams (calls) one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS; more are refused by HTTP/2). */
  maxConcurrentStreams: z.number().int().min(1).max(10_000).default(100),
  /**
   * The first message of a call must arrive this soon after it is asked for (unary requests at once, a Push header once the
   * push holds its upload buffer), or the call ends with DEADLINE_EXCEEDED and what was buffered of it is freed.
   */
  firstMessageTimeout: duration.pipe(z.number().min(100, 'must be at least 100 ms').max(600_000, 'must be at most 10m')).default(10_000),
});

export const tlsSchema = z.strictObject({
  /** TLSv1.3 by default; TLSv1.2 for older peers. */
  minVersion: z.enum(['TLSv1.3', 'TLSv1.2']).default('TLSv1.3'),
  handshakeTimeout: duration.default(10_000),
  /** After the TLS handshake, the client must send the HTTP/2 connection preface this soon, or the connection is closed (gRPC listener). */
  http2PrefaceTimeout: duration.pipe(z.number().min(100, 'must be at least 100 ms').max(600_000, 'must be at most 10m')).default(10_000),
  /** Connections are closed after this age, so changed trust never lives on in old connections. */
  maxConnectionAge: duration.default(30 * 60_000),
  maxConnectionAgeGrace: duration.default(5 * 60_000),
});


const KiB = 1024;
const MiB = 1024 * KiB;

export const storeSchema = z.strictObject({
  /** Largest record payload accepted by Push (bytes). */
  maxRecordBytes: z.number().int().min(1).default(8 * 1024 * MiB),
  /** Payload chunk size stored and streamed (bytes); must fit in grpc.maxMessageBytes. */
  chunkBytes: z.number().int().min(4 * KiB).max(64 * MiB).default(MiB),
  maxAnnotations: z.number().int().min(1).max(10_000).default(64),
  maxAnnotationValueBytes: z.number().int().min(1).max(MiB).default(4 * KiB),
  maxReferrerBytes: z.number().int().min(1).max(64 * MiB).default(MiB),
  /** A push that sends nothing for this long is aborted. */
  pushIdleTimeout: duration.default(120_000),
  /** A pull whose reader takes nothing for this long is aborted. */
  pullStallTimeout: duration.default(120_000),
  /** Staged chunks of an upload abandoned for this long are removed by the janitor. */
  stagingTtl: duration.default(30 * 60_000),
  sweepInterval: duration.default(5 * 60_000),
  /** Record metadata kept in memory by CID for Lookup and Pull (records never change; deletes evict on every replica); 0 disables. */
  recordCacheEntries: z.number().int().min(0).max(10_000_000).default(10_000),
  /** Database connections for Pulls' payload streams, apart from database.poolSize. */
  pullConnections: z.number().int().min(1).max(200).default(16),
  /** Database connections for uploads in progress (Pushes, sync imports, registry uploads), apart from database.poolSize and pullConnections: slow readers never block a Push. */
  pushConnections: z.number().int().min(1).max(200).default(8),
  /** How long a Pull waits for a free stream connection before UNAVAILABLE. */
  pullConnectionWait: duration.default(10_000),
  /** Pulls one caller SPIFFE ID may have running at once; more get RESOURCE_EXHAUSTED (keep it well below pullConnections). */
  pullsPerSpiffeId: z.number().int().min(1).max(100_000).default(4),
  /** Pulls all SPIFFE IDs of one trust domain may have running at once. */
  pullsPerTrustDomain: z.number().int().min(1).max(100_000).default(8),
  /** Pushes one caller SPIFFE ID may have running at once; more get RESOURCE_EXHAUSTED. */
  pushesPerSpiffeId: z.number().int().min(1).max(100_000).default(4),
  /** Pushes all SPIFFE IDs of one trust domain may have running at once. */
  pushesPerTrustDomain: z.number().int().min(1).max(100_000).default(16),
  /**
   * Memory all running pushes together may hold (bytes). Each push reserves 2 x grpc.maxMessageBytes + 3 x chunkBytes
   * (store.payloads s3: 2 x grpc.maxMessageBytes + (s3.partsInFlight + 1) x s3.partBytes)
   * before it reads anything; while none is free it reads nothing (HTTP/2 flow control holds the client back).
   */
  uploadBufferBytes: z.number().int().min(MiB).max(64 * 1024 * MiB).default(256 * MiB),
  /** A push that waited this long for upload buffer space is refused with RESOURCE_EXHAUSTED. */
  uploadBufferWait: duration.pipe(z.number().min(1, 'must be at least 1 ms')).default(30_000),
  ...payloadSettings,
});

/**
 * Authorization (src/authz). Sub-slices: `policy` (rules declared at boot), `rateLimit`
 * (per SPIFFE ID and per trust domain, after authentication), `audit` (the decision trail).
 */
export const authzSchema = z.strictObject({
  policy: z
    .strictObject({
      /**
       * Rules declared here (same JSON shape as the admin API: id, effect, subjects, methods,
       * namespaces, sourceCidrs, expiresAt, description, dryRun) are written at start with
       * source `config`, before every other rule, and are read-only through the API; rules
       * removed from here are removed from the policy. Checked at start against the served methods.
       */
      rules: z.array(z.record(z.string(), z.unknown())).optional(),
    })
    .prefault({}),
  rateLimit: z
    .strictObject({
      /** Token bucket per caller SPIFFE ID, applied after authentication and authorization. */
      perSpiffeId: z
        .strictObject({
          /** Calls per second each SPIFFE ID may sustain; 0 = no limit. */
          requestsPerSecond: z.number().min(0).max(1_000_000).default(0),
          /** Calls a quiet SPIFFE ID may send at once. */
          burst: z.number().int().min(1).max(10_000_000).default(50),
        })
        .prefault({}),
      /** Token bucket per caller trust domain (all its workloads together). */
      perTrustDomain: z
        .strictObject({
          /** Calls per second each trust domain may sustain; 0 = no limit. */
          requestsPerSecond: z.number().min(0).max(1_000_000).default(0),
          /** Calls a quiet trust domain may send at once. */
          burst: z.number().int().min(1).max(10_000_000).default(500),
        })
        .prefault({}),
      /** Most buckets kept per limit; beyond it full (idle) buckets, then the least recently used (of the 64 oldest), are dropped. */
      maxTracked: z.number().int().min(16).max(10_000_000).default(100_000),
    })
    .prefault({}),
  audit: z
    .strictObject({
      /** Decisions held in memory until written; when full (e.g. the database is down) new ones are dropped and counted. */
      queueSize: z.number().int().min(1).max(10_000_000).default(10_000),
      /** Most rows per INSERT. */
      batchSize: z.number().int().min(1).max(10_000).default(500),
      /** How often queued decisions are written (a full batch is written at once). */
      flushInterval: duration.pipe(z.number().min(10, 'must be at least 10 ms')).default(250),
      /** Rows older than this are deleted. */
      retention: duration.pipe(z.number().min(60_000, 'must be at least 1m')).default(30 * 86_400_000),
      /** How often old rows are deleted. */
      sweepInterval: duration.pipe(z.number().min(1000, 'must be at least 1s')).default(3_600_000),
      /** Log line per decision: deny = denials at info and allows at debug; all = both at info; none. */
      log: z.enum(['deny', 'all', 'none']).default('deny'),
      /**
       * Where decisions wait on disk while the database is away (an append-only file per gateway
       * process, fsync'd per batch, replayed in order when the database is back): relative to
       * dataDir, or absolute. Used with DATABASE_URL too; give each replica its own (persistent) one.
       */
      spoolDir: z.string().min(1).default('audit-spool'),
      /** Largest spool file; past it new entries are dropped (counted, logged at error). 0 = no spool: entries wait in the queue only. */
      spoolMaxBytes: z.number().int().min(0).max(2 ** 40).default(64 * 1024 * 1024),
    })
    .prefault({}),
});

/** Federation (src/federation): the bundle endpoint we serve and the partners we poll. */
export const federationSchema = z.strictObject({
  /** The endpoint that serves our own bundle to partners (GET / → SPIFFE bundle JSON; no client authentication). */
  bundleEndpoint: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Partners reach it from outside: all interfaces by default. */
      host: host.default('0.0.0.0'),
      port: port.default(8446),
      /** https_spiffe: serves with our X509-SVID (rotates live); https_web: serves with webCertFile/webKeyFile. */
      profile: z.enum(['https_spiffe', 'https_web']).default('https_spiffe'),
      /** https_web: PEM certificate chain (leaf first) from a web CA. */
      webCertFile: z.string().min(1).optional(),
      /** https_web: PEM private key of webCertFile. */
      webKeyFile: z.string().min(1).optional(),
      /** spiffe_refresh_hint published in our bundle: how often partners should poll us. */
      refreshHint: duration.pipe(z.number().min(1000, 'must be at least 1s').max(86_400_000, 'must be at most 1d')).default(300_000),
    })
    .refine((b) => !b.enabled || b.profile !== 'https_web' || (b.webCertFile !== undefined && b.webKeyFile !== undefined), {
      message: 'profile https_web needs webCertFile and webKeyFile',
    })
    .prefault({}),
  /**
   * Relationships declared at boot (same JSON shape as POST /v1/federations); upserted at
   * start and marked source "config". Checked in full (validateRelationship) at start.
   */
  relationships: z
    .array(
      z.strictObject({
        trustDomain: z.string(),
        /** https_spiffe | https_web | static (never inferred, never mixed). */
        profile: z.enum(['https_spiffe', 'https_web', 'static']),
        endpointUrls: z.array(z.string()).optional(),
        /** https_spiffe: the SPIFFE ID the bundle endpoint server must present. */
        endpointSpiffeId: z.string().optional(),
        /** https_spiffe: bundle of the endpoint ID's trust domain (SPIFFE JSON or PEM) for the first fetch. */
        bootstrapBundle: z.string().optional(),
        /** https_web: PEM roots instead of the web PKI. */
        caRootsPem: z.string().optional(),
        /** Authorities never trusted even when published: SHA-256 fingerprints or ski:HEX. */
        deniedAuthorities: z.array(z.string()).optional(),
      }),
    )
    .optional(),
  /** The partner bundle poller (one replica polls at a time). */
  poll: z
    .strictObject({
      /** A fetch that takes longer fails (ms or duration). */
      timeout: duration.pipe(z.number().min(100, 'must be at least 100 ms').max(300_000, 'must be at most 5m')).default(10_000),
      /** Larger bundle documents are refused (bytes). */
      maxBytes: z.number().int().min(1024).max(64 * MiB).default(MiB),
      /** Shortest time between two successful polls of a partner (refresh hints below it are raised to it). */
      minInterval: duration.pipe(z.number().min(1000, 'must be at least 1s').max(3_600_000, 'must be at most 1h')).default(30_000),
      /** How often a replica that does not poll tries to take over polling (a stopped poller is replaced this fast). */
      lockRetry: duration.pipe(z.number().min(100, 'must be at least 100 ms').max(30_000, 'must be at most 30s')).default(5000),
    })
    .prefault({}),
});

export const databaseSchema = z.strictObject({
  /** Any PostgreSQL server; when unset (and DATABASE_URL is unset) an embedded one is started. */
  url: secret(postgresUrl.optional(), 'url-password'),
  /** Run pending migrations at start. */
  migrationsRun: z.boolean().default(true),
  poolSize: z.number().int().min(1).max(200).default(10),
  /** How long to wait for a connection from the server (ms). */
  connectTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
  /** How often the database is probed; while it does not answer, gRPC Health is NOT_SERVING and /readyz 503. */
  healthInterval: duration.pipe(z.number().min(100, 'must be at least 100 ms').max(60_000, 'must be at most 1m')).default(2000),
  embedded: z
    .strictObject({
      /** TCP port of the embedded server on 127.0.0.1; 0 picks a free port at each start. */
      port: port.default(0),
      /** How long to wait for the embedded server to accept connections (ms). */
      startTimeoutMs: z.number().int().min(1000).max(600_000).default(60_000),
      /** First delay before restarting an embedded server that exited unexpectedly; doubles after each failed attempt. */
      restartBackoff: duration.pipe(z.number().min(50, 'must be at least 50 ms').max(60_000, 'must be at most 1m')).default(500),
      /** Longest delay between two restart attempts. */
      restartMaxBackoff: duration.pipe(z.number().min(100, 'must be at least 100 ms').max(600_000, 'must be at most 10m')).default(30_000),
    })
    .prefault({}),
});

export const opsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  host: host.default('127.0.0.1'),
  port: port.default(9464),
  /** Per-check timeout of /readyz (ms). */
  readinessTimeoutMs: z.number().int().min(50).max(60_000).default(2000),
});


export const logSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** auto: human-readable on a terminal, JSON otherwise. */
  format: z.enum(['auto', 'json', 'pretty']).default('auto'),
});

export const configSchema = z.strictObject({
  /** Where the gateway keeps its state (embedded database, keys). */
  dataDir: z.string().min(1).default('./.parley'),
  database: databaseSchema.prefault({}),
  ops: opsSchema.prefault({}),
  log: logSchema.prefault({}),
  identity: identitySchema.prefault({}),
  grpc: grpcSchema.prefault({}),
  tls: tlsSchema.prefault({}),
  admin: adminSchema.prefault({}),
  store: storeSchema.prefault({}),
  authz: authzSchema.prefault({}),
  federation: federationSchema.prefault({}),
  sync: syncSchema.prefault({}),
  registry: registrySchema.prefault({}),
}).superRefine((cfg, ctx) => {
  if (cfg.identity.source === 'files') {
    for (const key of ['cert', 'key', 'bundle'] as const) {
      if (!cfg.identity.files[key]) ctx.addIssue({ code: 'custom', path: ['identity', 'files', key], message: 'required when identity.source is files' });
    }
  }
  if (cfg.store.chunkBytes + 64 * KiB > cfg.grpc.maxMessageBytes || cfg.store.maxReferrerBytes + 64 * KiB > cfg.grpc.maxMessageBytes) {
    ctx.addIssue({ code: 'custom', path: ['grpc', 'maxMessageBytes'], message: 'must exceed store.chunkBytes and store.maxReferrerBytes by at least 64 KiB' });
  }
  if (cfg.store.uploadBufferBytes < 2 * cfg.grpc.maxMessageBytes + 3 * cfg.store.chunkBytes) {
    ctx.addIssue({ code: 'custom', path: ['store', 'uploadBufferBytes'], message: 'must hold one push: 2 x grpc.maxMessageBytes + 3 x store.chunkBytes' });
  } else if (cfg.store.payloads === 's3' && cfg.store.s3 !== undefined && cfg.store.uploadBufferBytes < 2 * cfg.grpc.maxMessageBytes + (cfg.store.s3.partsInFlight + 1) * cfg.store.s3.partBytes) {
    const message = 'must hold one push into the object store: 2 x grpc.maxMessageBytes + (store.s3.partsInFlight + 1) x store.s3.partBytes';
    ctx.addIssue({ code: 'custom', path: ['store', 'uploadBufferBytes'], message });
  }
  if (cfg.store.payloads === 's3' && cfg.store.s3 === undefined) ctx.addIssue({ code: 'custom', path: ['store', 's3'], message: 'required when store.payloads is s3' });
  if (cfg.store.stagingTtl < 2 * cfg.store.pushIdleTimeout) {
    ctx.addIssue({ code: 'custom', path: ['store', 'stagingTtl'], message: 'must be at least twice store.pushIdleTimeout' });
  }
  if (cfg.database.embedded.restartMaxBackoff < cfg.database.embedded.restartBackoff) {
    ctx.addIssue({ code: 'custom', path: ['database', 'embedded', 'restartMaxBackoff'], message: 'must be at least database.embedded.restartBackoff' });
  }
  if (cfg.identity.spiffeId && !cfg.identity.spiffeId.startsWith(`spiffe://${cfg.identity.trustDomain}/`)) {
    ctx.addIssue({ code: 'custom', path: ['identity', 'spiffeId'], message: 'must be in identity.trustDomain' });
  }
});

export type ParleyConfig = z.output<typeof configSchema>;
export type DatabaseConfig = ParleyConfig['database'];
export type OpsConfig = ParleyConfig['ops'];
export type LogConfig = ParleyConfig['log'];
export type IdentityConfig = ParleyConfig['identity'];
export type GrpcConfig = ParleyConfig['grpc'];
export type TlsConfig = ParleyConfig['tls'];
export type AdminConfig = ParleyConfig['admin'];
export type StoreConfig = ParleyConfig['store'];
export type AuthzConfig = ParleyConfig['authz'];
export type FederationConfig = ParleyConfig['federation'];
export type { S3Config } from './store-payloads-schema';
export type RegistryConfig = ParleyConfig['registry'];
