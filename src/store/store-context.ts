import type { Registry } from 'prom-client';
import { StoreCapacity } from './store-capacity';
import { StoreMetrics } from './store-metrics';
import type { TransportLogger } from '../tls';
import type { StoreLimits } from './domain/limits';
import type { StoreRepository } from './store.repository';

/** What every store handler needs besides its call and the call's context (callContextOf). */
export interface StoreHandlerContext {
  readonly repository: StoreRepository;
  readonly limits: StoreLimits;
  readonly logger: TransportLogger;
  readonly metrics: StoreMetrics | undefined;
  /** Per-caller concurrency caps and the upload buffer budget. */
  readonly capacity: StoreCapacity;
}

/** `capacity`: the gateway's one StoreCapacity (shared with the registry listener and sync); made here when not given. */
export function storeHandlerContext(o: { repository: StoreRepository; limits: StoreLimits; logger: TransportLogger; metrics?: Registry; capacity?: StoreCapacity }): StoreHandlerContext {
  return {
    metrics: o.metrics === undefined ? undefined : new StoreMetrics(o.metrics),
    capacity: o.capacity ?? new StoreCapacity(o.limits, o.logger, o.metrics),
    repository: o.repository,
    limits: o.limits,
    logger: o.logger,
  };
}
