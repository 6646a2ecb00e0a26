import { Injectable, Module } from '@nestjs/common';
import { AuthzModule, CallAuthorizer, RevocationStore, ServedMethods } from '../authz';
import { ParleyError, type GatewayListener, type ListenAddress } from '../common';
import { Settings } from '../config';
import { IdentityModule, IdentitySource } from '../identity';
import { RootLogger } from '../logging';
import { StoreModule, StoreService } from '../store';
import { GrantService, SyncModule, SyncSources } from '../sync';
import { svidProviderFrom } from '../tls';
import { TrustModule, TrustStore } from '../trust';
import { routesWithoutRule } from './domain/routes';
import { ManifestResolver } from './manifest-resolver';
import { OciSyncSource } from './oci-sync-source';
import { registryRequestHandler } from './registry-http';
import { RegistryListener } from './registry-listener';
import { UploadSessions } from './uploads';

/**
 * Fail closed: every registry route is authorized as a method the policy engine knows, or
 * the gateway does not start.
 * @throws ParleyError internal naming the routes without a rule
 */
export function requireRouteRules(served: ServedMethods): void {
  const missing = routesWithoutRule((m) => served.registry.has(m));
  if (missing.length > 0) throw new ParleyError('internal', `registry: routes without an authorization rule: ${missing.join(', ')}`);
}

/** The OCI registry listener (registry.*, off by default): the MtlsListener feeding the registry's HTTP handler. */
@Injectable()
export class RegistryHttpsListener implements GatewayListener {
  readonly name = 'registry';
  readonly enabled: boolean;
  private started: RegistryListener | undefined;
  private uploads: UploadSessions | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly identity: IdentitySource,
    private readonly trustStore: TrustStore,
    private readonly revocations: RevocationStore,
    private readonly authorizer: CallAuthorizer,
    private readonly grants: GrantService,
    private readonly store: StoreService,
    private readonly logger: RootLogger,
    served: ServedMethods,
  ) {
    this.enabled = settings.config.registry.enabled;
    requireRouteRules(served);
  }

  /** The running listener (tests: its connections). */
  get listener(): RegistryListener | undefined {
    return this.started;
  }

  async listen(): Promise<ListenAddress> {
    const { config } = this.settings;
    const r = config.registry;
    const logger = this.logger.child('registry');
    const uploads = new UploadSessions(this.store);
    this.uploads = uploads;
    const onRequest = registryRequestHandler({
      authorizer: this.authorizer,
      grants: this.grants,
      store: this.store,
      resolver: new ManifestResolver(this.store, r.maxTags),
      uploads,
      maxTags: r.maxTags,
      maxManifestBytes: r.maxManifestBytes,
      maxManifests: r.maxManifests,
      realm: r.realm,
      service: r.service ?? config.identity.trustDomain,
      ownTrustDomain: config.identity.trustDomain,
      logger,
    });
    const listener = new RegistryListener({
      host: r.host,
      port: r.port,
      minVersion: config.tls.minVersion,
      handshakeTimeoutMs: config.tls.handshakeTimeout,
      identity: svidProviderFrom(this.identity),
      trustStore: this.trustStore,
      revocations: this.revocations,
      logger,
      onRequest,
    });
    const address = await listener.listen();
    this.started = listener;
    return address;
  }

  /** Stops the listener, then discards the uploads no manifest finished. */
  async close(): Promise<void> {
    await this.started?.close();
    await this.uploads?.close();
  }
}

/** Syncs from OCI registries (the registry's client side), registered as a sync source adapter. */
export class OciSyncSourceRegistration {}

function registerOciSource(sources: SyncSources): OciSyncSourceRegistration {
  sources.register(new OciSyncSource());
  return new OciSyncSourceRegistration();
}

/** The OCI Distribution face over the store: same admission, same call authorizer, grants from the sync context; and syncs from OCI registries. */
@Module({
  imports: [AuthzModule, IdentityModule, TrustModule, StoreModule, SyncModule],
  providers: [RegistryHttpsListener, { provide: OciSyncSourceRegistration, inject: [SyncSources], useFactory: registerOciSource }],
  exports: [RegistryHttpsListener],
})
export class RegistryModule {}
