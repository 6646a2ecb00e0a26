/** Object-store counters for /metrics: bytes, operations, errors and latency, labelled with the backend. */
import { Counter, Histogram, type Registry } from 'prom-client';

export class ObjectStoreMetrics {
  private readonly bytesTotal: Counter<'backend' | 'direction'>;
  private readonly operations: Histogram<'backend' | 'operation'>;
  private readonly errors: Counter<'backend' | 'operation'>;

  constructor(registry: Registry, private readonly backend = 's3') {
    const labelNames = ['backend', 'operation'] as const;
    this.bytesTotal = new Counter({ name: 'parley_store_backend_bytes_total', help: 'Payload bytes written to and read from the payload backend', labelNames: ['backend', 'direction'] as const, registers: [registry] });
    this.operations = new Histogram({
      name: 'parley_store_backend_operation_seconds',
      help: 'Duration of payload backend operations that succeeded',
      labelNames,
      buckets: [0.005, 0.02, 0.1, 0.5, 2, 10, 60],
      registers: [registry],
    });
    this.errors = new Counter({ name: 'parley_store_backend_errors_total', help: 'Payload backend operations that failed', labelNames, registers: [registry] });
  }

  bytes(direction: 'read' | 'write', n: number): void {
    this.bytesTotal.inc({ backend: this.backend, direction }, n);
  }

  done(operation: string, seconds: number): void {
    this.operations.observe({ backend: this.backend, operation }, seconds);
  }

  failed(operation: string): void {
    this.errors.inc({ backend: this.backend, operation });
  }
}
