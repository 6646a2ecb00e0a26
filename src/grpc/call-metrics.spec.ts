import { status } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { CallMetrics } from './call-interceptor';

describe('CallMetrics', () => {
  it('exposes calls by method and status name, their durations and the calls in progress', async () => {
    const registry = new Registry();
    const metrics = new CallMetrics(registry);
    const lookup = '/parley.store.v1.StoreService/Lookup';
    metrics.started(lookup).ended(status.OK, 2);
    metrics.started(lookup).ended(status.PERMISSION_DENIED, 0.5);
    metrics.started(lookup).ended(99, 700_000);
    metrics.started(lookup);
    const text = await registry.metrics();
    expect(text).toContain(`parley_grpc_calls_total{method="${lookup}",code="OK"} 1`);
    expect(text).toContain(`parley_grpc_calls_total{method="${lookup}",code="PERMISSION_DENIED"} 1`);
    expect(text).toContain(`parley_grpc_calls_total{method="${lookup}",code="99"} 1`);
    expect(text).not.toContain('code="CANCELLED"');
    expect(text).toContain(`parley_grpc_calls_in_progress{method="${lookup}"} 1`);
    expect(text).toContain(`parley_grpc_call_duration_seconds_bucket{le="0.001",method="${lookup}"} 1`);
    expect(text).toContain(`parley_grpc_call_duration_seconds_bucket{le="0.0025",method="${lookup}"} 2`);
    expect(text).toContain(`parley_grpc_call_duration_seconds_bucket{le="600",method="${lookup}"} 2`);
    expect(text).toContain(`parley_grpc_call_duration_seconds_bucket{le="+Inf",method="${lookup}"} 3`);
    expect(text).toContain(`parley_grpc_call_duration_seconds_count{method="${lookup}"} 3`);
    expect(text).toContain(`parley_grpc_call_duration_seconds_sum{method="${lookup}"} 700.0025`);
  });

  it('keeps one series per method however many calls start', async () => {
    const registry = new Registry();
    const metrics = new CallMetrics(registry);
    const a = metrics.started('/p.S/A');
    expect(metrics.started('/p.S/A')).toBe(a);
    a.ended(status.OK, 1);
    a.ended(status.OK, 1);
    const text = await registry.metrics();
    expect(text).toContain('parley_grpc_calls_total{method="/p.S/A",code="OK"} 2');
    expect(text).toContain('parley_grpc_calls_in_progress{method="/p.S/A"} 0');
  });
});
