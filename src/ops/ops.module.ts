import { Injectable, Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import type { GatewayListener, ListenAddress } from '../common';
import { Settings } from '../config';
import { RootLogger } from '../logging';
import { ReadinessRegistry } from './domain/readiness';
import { OpsServer } from './ops-server';

/** The ops listener (ops.*): /healthz, /readyz over every registered check, /metrics. */
@Injectable()
export class OpsListener implements GatewayListener {
  readonly name = 'ops';
  readonly enabled: boolean;
  private readonly server: OpsServer;

  constructor(settings: Settings, readiness: ReadinessRegistry, metrics: Registry, logger: RootLogger) {
    this.enabled = settings.config.ops.enabled;
    this.server = new OpsServer({ ...settings.config.ops, readiness, metrics, logger: logger.child('ops') });
  }

  listen(): Promise<ListenAddress> {
    return this.server.listen();
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

/** Operations: health, readiness and metrics over plain HTTP (loopback by default). */
@Module({ providers: [OpsListener], exports: [OpsListener] })
export class OpsModule {}
