import 'reflect-metadata';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Logger } from 'pino';
import { AdminGatekeeper, AdminMetrics, mountAdminMiddleware, mountOpenApi } from './admin';
import { ShutdownSequence } from './common';
import type { ParleyConfig } from './config';
import { GatewayModule, GatewayWiring, type ListenerAddresses } from './gateway.module';
import { Database } from './database';
import { IdentitySource } from './identity';
import { createLogger, PinoNestLogger } from './logging';
import { VERSION } from './common';

/** A running gateway: its services by class (tests, demos), where its listeners listen, and its stop. */
export interface Gateway {
  readonly app: INestApplication;
  /** A context's service, by its class (e.g. `gateway.get(TrustStore)`). */
  get<T>(type: Type<T> | (abstract new (...args: never[]) => T)): T;
  /** Where each enabled listener really listens (port 0 in config resolves here). */
  readonly listeners: ListenerAddresses;
  /** Stops the listeners, then every service in the reverse order of its start, the database last. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the gateway: NestJS builds every context's services in dependency order (each start
 * registers its stop), the admin gate and body parsers go in front of the admin routes, and
 * the wiring connects the contexts and starts the listeners (GatewayWiring).
 */
export async function startGateway(config: ParleyConfig, logger: Logger = createLogger(config.log)): Promise<Gateway> {
  const startedAt = performance.now();
  const shutdown = new ShutdownSequence((step, err) => logger.error({ err, step }, 'shutdown step failed'));
  try {
    const app = await NestFactory.create<NestExpressApplication>(GatewayModule.forRoot({ config, logger, shutdown }), {
      logger: new PinoNestLogger(logger.child({ component: 'nest' })),
      abortOnError: false,
      bodyParser: false,
    });
    shutdown.add('nest application', () => app.close());
    mountAdminMiddleware(app, app.get(AdminGatekeeper), config.admin, app.get(AdminMetrics));
    mountOpenApi(app);
    await app.init();
    const listeners = app.get(GatewayWiring).addresses;
    await logStarted(logger, app, listeners, startedAt);
    return { app, get: (type) => app.get(type), listeners, close: () => shutdown.run() };
  } catch (err) {
    await shutdown.run();
    throw err;
  }
}

async function logStarted(logger: Logger, app: INestApplication, at: ListenerAddresses, startedAt: number): Promise<void> {
  logger.info(
    {
      version: VERSION,
      installationId: await app.get(Database).installationId(),
      spiffeId: app.get(IdentitySource).current()?.svid.id.toString(),
      grpc: at.grpc ? `${at.grpc.host}:${at.grpc.port}` : 'disabled',
      admin: at.admin ? `https://${at.admin.host}:${at.admin.port}` : 'disabled',
      registry: at.registry ? `https://${at.registry.host}:${at.registry.port}` : 'disabled',
      ops: at.ops ? `http://${at.ops.host}:${at.ops.port}` : 'disabled',
      startupMs: Math.round(performance.now() - startedAt),
    },
    'parley gateway started',
  );
}
