/**
 * Per-method call metrics of the gRPC endpoint: calls by method and final status code,
 * call duration, and calls in progress. Runs inside the identity interceptor, so refused
 * calls are counted with their status too (PERMISSION_DENIED, UNAUTHENTICATED, …).
 */
import * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const CODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));

export function metricsInterceptor(metrics: Registry): grpc.ServerInterceptor {
  const calls = new Counter({
    name: 'parley_grpc_calls_total',
    help: 'gRPC calls by full method name and final status code',
    labelNames: ['method', 'code'] as const,
    registers: [metrics],
  });
  const duration = new Histogram({
    name: 'parley_grpc_call_duration_seconds',
    help: 'gRPC call duration from the request metadata to the final status, by method',
    labelNames: ['method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 120, 600],
    registers: [metrics],
  });
  const inFlight = new Gauge({ name: 'parley_grpc_calls_in_progress', help: 'gRPC calls started and not yet ended, by method', labelNames: ['method'] as const, registers: [metrics] });
  return (method, call) => {
    const started = performance.now();
    let ended = false;
    inFlight.inc({ method: method.path });
    const end = (code: number) => {
      if (ended) return;
      ended = true;
      inFlight.dec({ method: method.path });
      calls.inc({ method: method.path, code: CODE_NAMES[code] ?? String(code) });
      duration.observe({ method: method.path }, (performance.now() - started) / 1000);
    };
    const listener = new grpc.ServerListenerBuilder().withOnCancel(() => end(grpc.status.CANCELLED)).build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        end(status.code ?? grpc.status.UNKNOWN);
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}
