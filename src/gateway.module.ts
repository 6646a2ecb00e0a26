import { type DynamicModule, Global, Injectable, Module, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { AdminHttpsListener, AdminModule } from './admin';
import { AuthzModule, RevocationStore, ServedMethods } from './authz';
import { serviceMethods, ShutdownSequence, type GatewayListener, type ListenAddress } from './common';
import { Settings, type ParleyConfig } from './config';
import { Database, DatabaseModule } from './database';
import { BundleEndpointListener, FederationModule, FederationService } from './federation';
import { builtinMethods, GrpcListener, GrpcModule, SecureGrpcServer } from './grpc';
import { IdentityModule } from './identity';
import { RootLogger } from './logging';
import { RegistryHttpsListener, RegistryModule } from './registry';
import { createMetricsRegistry, OpsListener, OpsModule, ReadinessRegistry } from './ops';
import { STORE_SERVICE, storeMethodNames, storePackageDefinition, StoreModule } from './store';
import { CREATE_SYNC_METHOD, REQUEST_CREDENTIALS_METHOD, SYNC_SERVICE, syncPackageDefinition, SyncModule } from './sync';
import { TrustModule } from './trust';
import { VERSION } from './common';

/**
 * Every gRPC method the gateway serves, from the service definitions it registers: what
 * policy rules may name. Store calls are decided again once their namespace is known; a
 * credentials request and a CreateSync are audited by their handlers (nothing may be
 * exported to the caller; the caller may not write where the sync would).
 */
export function servedMethods(): ServedMethods {
  const store = serviceMethods(storePackageDefinition(), STORE_SERVICE);
  const sync = serviceMethods(syncPackageDefinition(), SYNC_SERVICE);
  return new ServedMethods([...store, ...sync, ...builtinMethods()], storeMethodNames(), [REQUEST_CREDENTIALS_METHOD, CREATE_SYNC_METHOD]);
}

/** What the process hands the gateway: the validated configuration, the root logger, the stop order. */
export interface GatewayCore {
  config: ParleyConfig;
  logger: Logger;
  shutdown: ShutdownSequence;
}

/** The infrastructure every context uses: settings, logging, metrics, readiness, the stop order, the served methods. */
@Global()
@Module({})
class CoreModule {
  static register(core: GatewayCore): DynamicModule {
    const providers = [
      { provide: Settings, useValue: new Settings(core.config) },
      { provide: RootLogger, useValue: new RootLogger(core.logger) },
      { provide: ShutdownSequence, useValue: core.shutdown },
      { provide: Registry, useValue: createMetricsRegistry(VERSION) },
      { provide: ReadinessRegistry, useValue: new ReadinessRegistry() },
      { provide: ServedMethods, useValue: servedMethods() },
    ];
    return { module: CoreModule, providers, exports: providers.map((p) => p.provide) };
  }
}

/** Where the gateway's listeners really listen, by configuration section. */
export type ListenerAddresses = Partial<Record<'grpc' | 'admin' | 'bundleEndpoint' | 'ops' | 'registry', ListenAddress>>;

/**
 * The cross-context hooks, then the listeners — last up, first down: they start once every
 * service they reach has started, and their stops run before any other (ShutdownSequence).
 */
@Injectable()
export class GatewayWiring implements OnApplicationBootstrap {
  readonly addresses: ListenerAddresses = {};
  private readonly listeners: GatewayListener[];

  constructor(
    private readonly shutdown: ShutdownSequence,
    private readonly logger: RootLogger,
    private readonly database: Database,
    private readonly endpoint: SecureGrpcServer,
    private readonly revocations: RevocationStore,
    private readonly federation: FederationService,
    grpc: GrpcListener,
    admin: AdminHttpsListener,
    bundleEndpoint: BundleEndpointListener,
    ops: OpsListener,
    registry: RegistryHttpsListener,
  ) {
    this.listeners = [bundleEndpoint, grpc, registry, admin, ops];
  }

  async onApplicationBootstrap(): Promise<void> {
    this.connectContexts();
    for (const listener of this.listeners) {
      if (!listener.enabled) continue;
      this.addresses[listener.name as keyof ListenerAddresses] = await this.shutdown.step(`${listener.name} listener`, () => listener.listen(), () => listener.close());
    }
  }

  private connectContexts(): void {
    const { endpoint, shutdown } = this;
    // NOT_SERVING while the database is down, so balancers move traffic elsewhere.
    const monitor = this.database.monitor;
    endpoint.health.setStatus('', monitor.state.up ? 'SERVING' : 'NOT_SERVING');
    shutdown.add('health follows the database', monitor.onChange((state) => endpoint.health.setStatus('', state.up ? 'SERVING' : 'NOT_SERVING')));
    // A revocation closes the open gRPC connections it covers, on every replica (the admin listener does the same for its own).
    const log = this.logger.child('grpc');
    shutdown.add(
      'revocations close connections',
      this.revocations.onRevoked((isRevoked) => {
        const closed = endpoint.closeConnections(isRevoked, 'revoked');
        if (closed > 0) log.warn({ closed }, 'closed connections of revoked identities');
      }),
    );
    // A partner's peer signed by an authority we do not hold yet: fetch its bundle early (rate-limited).
    shutdown.add('early bundle refresh', endpoint.onUnheldAuthority((td) => this.federation.requestEarlyRefresh(td.name)));
  }
}

/** The one composition root: a module per bounded context, and the wiring between them. */
@Module({})
export class GatewayModule {
  static forRoot(core: GatewayCore): DynamicModule {
    return {
      module: GatewayModule,
      imports: [CoreModule.register(core), DatabaseModule, TrustModule, IdentityModule, AuthzModule, FederationModule, GrpcModule, StoreModule, SyncModule, RegistryModule, AdminModule, OpsModule],
      providers: [GatewayWiring],
    };
  }
}
