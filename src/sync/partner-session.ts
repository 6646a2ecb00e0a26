import * as grpc from '@grpc/grpc-js';
import type { SpiffeId } from '../spiffe';
import { StoreClient, storeChannelOptions } from '../store';
import { spiffeChannelCredentials, type ClientTrust } from '../tls';
import type { SvidProvider } from '../tls';
import { SYNC_SERVICE, SyncClient, dateOf, type WireGrantScope } from './sync-wire';

/** A failure of the session that the worker turns into a failure reason. */
export class PartnerError extends Error {
  constructor(
    readonly kind: 'nothing_exported' | 'grant_expired' | 'rpc',
    message: string,
    readonly grpcCode?: number,
  ) {
    super(message);
    this.name = 'PartnerError';
  }
}

export interface PartnerSessionOptions {
  readonly address: string;
  /** The partner gateway's SPIFFE ID: the connection is pinned to it. */
  readonly remoteId: SpiffeId;
  readonly svid: SvidProvider;
  readonly trust: ClientTrust;
  /** Deadline of a credentials request. Default 10 s. */
  readonly requestTimeoutMs?: number;
  readonly now?: () => number;
}

interface HeldGrant {
  readonly token: string;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  readonly scope: WireGrantScope[];
}

/**
 * One connection to a partner's gateway, with our own SVID, pinned to its SPIFFE ID. Store
 * calls carry the current grant as `authorization: Bearer`; the grant is requested over the
 * same channel (so it is bound to the certificate this connection presents), and renewed
 * before a third of its lifetime is left, after our SVID rotates, and after the partner
 * refused it.
 */
export class PartnerSession {
  readonly store: StoreClient;
  private readonly sync: SyncClient;
  private readonly channel: grpc.Channel;
  private grant: HeldGrant | undefined;
  private stale = false;
  private refreshing: Promise<HeldGrant> | undefined;
  private readonly offRotation: () => void;
  private readonly now: () => number;

  constructor(private readonly o: PartnerSessionOptions) {
    this.now = o.now ?? Date.now;
    const tls = spiffeChannelCredentials({ svid: o.svid, trust: o.trust, server: { id: o.remoteId } });
    const bearer = grpc.credentials.createFromMetadataGenerator((params, callback) => {
      if (params.service_url.endsWith(`/${SYNC_SERVICE}`)) return callback(null, new grpc.Metadata());
      this.currentGrant().then(
        (g) => {
          const md = new grpc.Metadata();
          md.set('authorization', `Bearer ${g.token}`);
          callback(null, md);
        },
        (err: Error) => callback(err),
      );
    });
    const options = { ...storeChannelOptions(), 'grpc.ssl_target_name_override': o.remoteId.trustDomain.name };
    this.channel = new grpc.Channel(o.address, grpc.credentials.combineChannelCredentials(tls, bearer), options);
    this.store = new StoreClient(o.address, tls, { ...options, channelOverride: this.channel });
    this.sync = new SyncClient(o.address, tls, { channelOverride: this.channel });
    this.offRotation = o.svid.onUpdate(() => {
      this.stale = true;
    });
  }

  /** The grant's scope (requests one when none is held). */
  async scope(): Promise<WireGrantScope[]> {
    return (await this.currentGrant()).scope;
  }

  /** Forget the grant (the partner refused it): the next call asks for a new one. */
  invalidate(): void {
    this.stale = true;
  }

  close(): void {
    this.offRotation();
    this.store.close();
    this.sync.close();
    this.channel.close();
  }

  private currentGrant(): Promise<HeldGrant> {
    const g = this.grant;
    const now = this.now();
    if (g !== undefined && !this.stale && g.expiresAtMs - now > (g.expiresAtMs - g.issuedAtMs) / 3) return Promise.resolve(g);
    this.refreshing ??= this.request().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async request(): Promise<HeldGrant> {
    const staleBefore = this.stale;
    let res;
    try {
      res = await this.sync.requestRegistryCredentials(new Date(this.now() + (this.o.requestTimeoutMs ?? 10_000)));
    } catch (err) {
      const code = (err as grpc.ServiceError).code;
      if (code === grpc.status.PERMISSION_DENIED) throw new PartnerError('nothing_exported', `${this.o.remoteId.toString()} exports nothing to us (or its policy refuses RequestRegistryCredentials)`, code);
      throw new PartnerError('rpc', `request registry credentials from ${this.o.address}: ${(err as Error).message}`, code);
    }
    const expires = dateOf(res.expires_at);
    if (!res.success || res.token === '' || expires === undefined) throw new PartnerError('nothing_exported', `${this.o.remoteId.toString()} issued no grant: ${res.error_message || 'no token'}`);
    if (expires.getTime() <= this.now()) throw new PartnerError('grant_expired', `${this.o.remoteId.toString()} issued a grant that has already expired (clocks apart?)`);
    const grant = { token: res.token, issuedAtMs: this.now(), expiresAtMs: expires.getTime(), scope: res.scope };
    this.grant = grant;
    if (staleBefore) this.stale = false;
    return grant;
  }
}
