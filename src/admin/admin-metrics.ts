import { Counter, Gauge, type Registry } from 'prom-client';
import type { RefusalReason } from '../tls';
import type { AdminRefusal } from './admin-auth';
import type { AdminListener } from './admin-server';

export abstract class AdminMetrics {
  abstract connectionRefused(reason: RefusalReason): void;
  abstract requestRefused(reason: AdminRefusal): void;
  abstract connectionsClosed(reason: 'revoked', count: number): void;
  /** Reports the listener's open connections and trust-change closures from now on. */
  abstract watch(listener: AdminListener): void;
}

/** The admin API's transport and refusal metrics (parley_admin_*). */
export function createAdminMetrics(registry: Registry): AdminMetrics {
  const refusedConnections = new Counter({ name: 'parley_admin_connections_refused_total', help: 'mTLS connections refused by the admin listener, by reason', labelNames: ['reason'], registers: [registry] });
  const refusedRequests = new Counter({
    name: 'parley_admin_requests_refused_total',
    help: 'Admin requests refused before a route ran: no_peer, revoked, not_admin, no_permission, body_too_large, json_too_deep, json_invalid, text_invalid',
    labelNames: ['reason'],
    registers: [registry],
  });
  const closed = new Counter({ name: 'parley_admin_connections_closed_total', help: 'Open admin connections closed by the gateway, by reason (revoked; trust changes: parley_admin_connections_closed_by_trust_change)', labelNames: ['reason'], registers: [registry] });
  let listener: AdminListener | undefined;
  new Gauge({
    name: 'parley_admin_connections_open',
    help: 'Open mTLS connections of the admin listener',
    registers: [registry],
    collect() {
      this.set(listener?.listener.stats().open ?? 0);
    },
  });
  new Gauge({
    name: 'parley_admin_connections_closed_by_trust_change',
    help: 'Admin connections closed because their trust domain bundle was removed or no longer verifies them (since start)',
    registers: [registry],
    collect() {
      this.set(listener?.listener.stats().closedByTrustChange ?? 0);
    },
  });
  return {
    connectionRefused: (reason) => refusedConnections.inc({ reason }),
    requestRefused: (reason) => refusedRequests.inc({ reason }),
    connectionsClosed: (reason, count) => closed.inc({ reason }, count),
    watch: (l) => {
      listener = l;
    },
  };
}
