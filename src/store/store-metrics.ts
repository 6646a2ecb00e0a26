/** Store counters for /metrics (call counts and durations come from the gRPC endpoint). */
import { Counter, type Registry } from 'prom-client';

export class StoreMetrics {
  private readonly pushedBytes: Counter;
  private readonly pulledBytes: Counter;
  private readonly pushes: Counter<'result'>;
  private readonly deletes: Counter;

  constructor(registry: Registry) {
    this.pushedBytes = new Counter({ name: 'parley_store_pushed_bytes_total', help: 'Payload bytes received by successful pushes', registers: [registry] });
    this.pulledBytes = new Counter({ name: 'parley_store_pulled_bytes_total', help: 'Payload bytes sent by pulls', registers: [registry] });
    this.pushes = new Counter({
      name: 'parley_store_records_pushed_total',
      help: 'Successful pushes: created a record, or found the same content already stored',
      labelNames: ['result'] as const,
      registers: [registry],
    });
    this.deletes = new Counter({ name: 'parley_store_records_deleted_total', help: 'Records deleted through the gRPC API', registers: [registry] });
  }

  pushed(bytes: number, created: boolean): void {
    this.pushedBytes.inc(bytes);
    this.pushes.inc({ result: created ? 'created' : 'existing' });
  }

  pulled(bytes: number): void {
    this.pulledBytes.inc(bytes);
  }

  deleted(): void {
    this.deletes.inc();
  }
}
