/**
 * A SPIFFE Workload API server (the protocol a SPIRE agent speaks) fed by a provider, for
 * development and tests: streams the full X.509 state on connect and again on every
 * provider change. No workload attestation: whoever can open the socket gets the identity,
 * so the unix socket is created 0660. JWT-SVIDs are not supported (no JWT issuer yet).
 */
import { lstat, unlink, chmod } from 'node:fs/promises';
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../../common';
import { parseWorkloadEndpoint, type SpiffeId, type WorkloadEndpoint } from '../../spiffe';
import type { WorkloadApiLogger } from './workload-api-client';
import { hasSecurityHeader, workloadApiProto, type X509BundlesResponseMessage, type X509SvidResponseMessage } from './workload-proto';

export interface WorkloadApiSvid {
  id: SpiffeId;
  /** DER certificates, leaf first. */
  chainDer: Buffer[];
  keyPkcs8Der: Buffer;
  /** The own trust domain's bundle: concatenated DER certificates. */
  bundleDer: Buffer;
  hint?: string;
}

export interface WorkloadApiX509State {
  /** The first one is the workload's default identity. */
  svids: WorkloadApiSvid[];
  /** Trust-domain ID (`spiffe://td`) -> concatenated DER; an absent entry means removed. */
  federatedBundles: Map<string, Buffer>;
}

export interface WorkloadApiProvider {
  /** The current state, or undefined while no identity is issued (answered PermissionDenied). */
  x509(): WorkloadApiX509State | undefined;
  /** Trust-domain ID (`spiffe://td`) -> concatenated DER, for FetchX509Bundles. */
  x509Bundles(): Map<string, Buffer>;
  /** Called whenever anything above changes; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

export interface WorkloadApiServerOptions {
  logger?: WorkloadApiLogger;
  /** How long `close()` waits for connections to drain before forcing them; default 200 ms. */
  graceMs?: number;
}

type Status = { code: grpc.status; details: string };
type AnyWritable = grpc.ServerWritableStream<unknown, unknown>;
type AnyUnary = grpc.ServerUnaryCall<unknown, unknown>;

const HEADER_MISSING: Status = { code: grpc.status.INVALID_ARGUMENT, details: 'security header missing from request' };
const NO_IDENTITY: Status = { code: grpc.status.PERMISSION_DENIED, details: 'no identity issued' };
const JWT_UNSUPPORTED: Status = {
  code: grpc.status.UNIMPLEMENTED,
  details: 'jwt-svids are not supported: this workload api server has no jwt issuer',
};
const SHUTTING_DOWN: Status = { code: grpc.status.UNAVAILABLE, details: 'workload api server is shutting down' };
const NO_LOG: WorkloadApiLogger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

export class WorkloadApiServer {
  private server?: grpc.Server;
  private socketPath?: string;
  private closing = false;
  private readonly streams = new Set<(status?: Status) => void>();
  private readonly log: WorkloadApiLogger;
  private readonly graceMs: number;

  constructor(
    private readonly provider: WorkloadApiProvider,
    options: WorkloadApiServerOptions = {},
  ) {
    this.log = options.logger ?? NO_LOG;
    this.graceMs = options.graceMs ?? 200;
  }

  /**
   * Serves on `unix:///abs/path` (a stale socket file is replaced; a live one is refused) or
   * `tcp://ip:port`. Resolves once bound.
   * @throws ParleyError `config_invalid` (bad address), `conflict` (path in use), `unavailable` (bind failed)
   */
  async listen(address: string): Promise<void> {
    if (this.server) throw new TypeError('workload api server: already listening');
    let endpoint: WorkloadEndpoint;
    try {
      endpoint = parseWorkloadEndpoint(address);
    } catch (err) {
      throw new ParleyError('config_invalid', `workload api server: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (endpoint.kind === 'unix') await removeStaleSocket(endpoint.path);
    const server = new grpc.Server();
    server.addService(workloadApiProto().service, this.handlers());
    try {
      await new Promise<number>((resolve, reject) =>
        server.bindAsync(endpoint.target, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
      );
      if (endpoint.kind === 'unix') await chmod(endpoint.path, 0o660);
    } catch (err) {
      server.forceShutdown();
      throw new ParleyError('unavailable', `workload api server: cannot listen on ${address}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.server = server;
    this.closing = false;
    this.socketPath = endpoint.kind === 'unix' ? endpoint.path : undefined;
    this.log.info({ address }, 'workload api server: listening');
  }

  /** Ends every stream (Unavailable), stops the server (forced after the grace period), removes the socket. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.closing = true;
    for (const end of [...this.streams]) end(SHUTTING_DOWN);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, this.graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    const path = this.socketPath;
    this.socketPath = undefined;
    if (path) await unlink(path).catch(() => undefined);
  }

  private handlers(): grpc.UntypedServiceImplementation {
    return {
      FetchX509SVID: (call: AnyWritable) => this.serveStream(call, 'FetchX509SVID', () => this.x509Response()),
      FetchX509Bundles: (call: AnyWritable) => this.serveStream(call, 'FetchX509Bundles', () => this.bundlesResponse()),
      FetchJWTBundles: (call: AnyWritable) => {
        call.emit('error', this.checkHeader(call, 'FetchJWTBundles') ?? JWT_UNSUPPORTED);
      },
      FetchJWTSVID: (call: AnyUnary, callback: grpc.sendUnaryData<unknown>) => {
        callback(this.checkHeader(call, 'FetchJWTSVID') ?? JWT_UNSUPPORTED);
      },
      ValidateJWTSVID: (call: AnyUnary, callback: grpc.sendUnaryData<unknown>) => {
        callback(this.checkHeader(call, 'ValidateJWTSVID') ?? JWT_UNSUPPORTED);
      },
    };
  }

  private checkHeader(call: AnyWritable | AnyUnary, rpc: string): Status | undefined {
    if (hasSecurityHeader(call.metadata)) return undefined;
    this.log.warn({ rpc, peer: call.getPeer() }, 'workload api server: request without the security header rejected');
    return HEADER_MISSING;
  }

  /** Sends the full state now and on every provider change until the client or the server ends it. */
  private serveStream(call: AnyWritable, rpc: string, build: () => object | undefined): void {
    const rejected = this.checkHeader(call, rpc) ?? (this.closing ? SHUTTING_DOWN : undefined);
    if (rejected) {
      call.emit('error', rejected);
      return;
    }
    let ended = false;
    const end = (status?: Status) => {
      if (ended) return;
      ended = true;
      unsubscribe();
      this.streams.delete(end);
      if (status && !call.cancelled) call.emit('error', status);
    };
    const send = () => {
      if (ended) return;
      let message: object | undefined;
      try {
        message = build();
      } catch (err) {
        this.log.error({ rpc, err }, 'workload api server: provider failed');
        end({ code: grpc.status.INTERNAL, details: 'internal error' });
        return;
      }
      if (message === undefined) end(NO_IDENTITY);
      else call.write(message);
    };
    const unsubscribe = this.provider.onChange(send);
    this.streams.add(end);
    call.on('cancelled', () => end());
    this.log.debug({ rpc, peer: call.getPeer() }, 'workload api server: stream opened');
    send();
  }

  private x509Response(): X509SvidResponseMessage | undefined {
    const state = this.provider.x509();
    if (!state || state.svids.length === 0) return undefined;
    return {
      svids: state.svids.map((s) => ({
        spiffe_id: s.id.toString(),
        x509_svid: Buffer.concat(s.chainDer),
        x509_svid_key: s.keyPkcs8Der,
        bundle: s.bundleDer,
        hint: s.hint ?? '',
      })),
      crl: [],
      federated_bundles: Object.fromEntries(state.federatedBundles),
    };
  }

  private bundlesResponse(): X509BundlesResponseMessage | undefined {
    const state = this.provider.x509();
    if (!state || state.svids.length === 0) return undefined;
    return { crl: [], bundles: Object.fromEntries(this.provider.x509Bundles()) };
  }
}

/** Removes a socket file nobody listens on; refuses a live socket or a non-socket file. */
async function removeStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ParleyError('unavailable', `workload api server: cannot inspect ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  if (!stat.isSocket()) throw new ParleyError('conflict', `workload api server: ${path} exists and is not a socket`);
  if (await socketAnswers(path)) throw new ParleyError('conflict', `workload api server: ${path} is in use by a running server`);
  await unlink(path).catch(() => undefined);
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (live: boolean) => {
      socket.destroy();
      resolve(live);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
