import { Injectable, Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import { AuthzModule, CallAuthorizer, ServedMethods } from '../authz';
import type { GatewayListener, ListenAddress } from '../common';
import { Settings } from '../config';
import { IdentityModule, IdentitySource } from '../identity';
import { RootLogger } from '../logging';
import { TrustDomain } from '../spiffe';
import { svidProviderFrom } from '../tls';
import { TrustModule, TrustStore } from '../trust';
import { createGrpcEndpoint, startGrpcEndpoint } from './grpc-endpoint';
import { SecureGrpcServer } from './secure-grpc-server';

/** The data-plane endpoint (grpc.*): listens last, stops first (drains calls within the grace period). */
@Injectable()
export class GrpcListener implements GatewayListener {
  readonly name = 'grpc';
  readonly enabled: boolean;

  constructor(
    private readonly settings: Settings,
    private readonly endpoint: SecureGrpcServer,
  ) {
    this.enabled = settings.config.grpc.enabled;
  }

  listen(): Promise<ListenAddress> {
    return startGrpcEndpoint(this.endpoint, this.settings.config.grpc);
  }

  close(): Promise<void> {
    return this.endpoint.stop();
  }
}

/**
 * The raw grpc-js data plane behind our mTLS listener (not Nest's microservice transport:
 * backpressure and stream-call crashes, DESIGN §4). Every call is authorized by the
 * CallAuthorizer in the identity interceptor; services register on `SecureGrpcServer`,
 * and only with methods the authorization knows.
 */
@Module({
  imports: [AuthzModule, IdentityModule, TrustModule],
  providers: [
    {
      provide: SecureGrpcServer,
      inject: [Settings, IdentitySource, TrustStore, CallAuthorizer, ServedMethods, RootLogger, Registry],
      useFactory: (settings: Settings, identity: IdentitySource, trustStore: TrustStore, authorizer: CallAuthorizer, served: ServedMethods, logger: RootLogger, metrics: Registry) =>
        createGrpcEndpoint({
          grpc: settings.config.grpc,
          tls: settings.config.tls,
          identity: svidProviderFrom(identity),
          trustStore,
          ownTrustDomain: TrustDomain.parse(settings.config.identity.trustDomain),
          authorize: authorizer.authorize,
          requireKnownMethods: (paths) => served.requireKnown(paths),
          logger: logger.child('grpc'),
          metrics,
        }),
    },
    GrpcListener,
  ],
  exports: [SecureGrpcServer, GrpcListener],
})
export class GrpcModule {}
