import { ParleyError } from '../common';
import { MethodRegistry } from './domain';

/**
 * The gRPC methods the gateway serves, handed in by the wiring from the service definitions
 * it registers (one source): what policy rules may name, and which methods' requests carry a
 * record namespace (decided again by the handler), and which methods are decided at
 * admission but audited by their handler (which may still refuse, with its reason).
 */
export class ServedMethods {
  readonly registry: MethodRegistry;
  readonly namespaced: ReadonlySet<string>;
  readonly handlerAudited: ReadonlySet<string>;

  constructor(all: readonly string[], namespaced: readonly string[], handlerAudited: readonly string[] = []) {
    this.registry = new MethodRegistry(all);
    this.namespaced = new Set(namespaced);
    this.handlerAudited = new Set(handlerAudited);
  }

  /**
   * Fail closed: a service registered on the gRPC server must have every method known to
   * the policy engine, or the gateway refuses to start.
   * @throws ParleyError internal naming the unknown methods
   */
  requireKnown(paths: readonly string[]): void {
    const unknown = paths.filter((m) => !this.registry.has(m));
    if (unknown.length > 0) throw new ParleyError('internal', `grpc: served methods unknown to the authorization method registry: ${unknown.join(', ')}`);
  }
}
