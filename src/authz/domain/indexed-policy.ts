/**
 * The compiled policy's class and its first cache level, by SpiffeId object. The gateway
 * keeps one SpiffeId per connection, so a connection's repeated calls find their decision
 * without hashing the ID's text: a direct-mapped cache where the object's serial picks the
 * slot and a slot holds one object's tables (a newer object with the same slot replaces
 * them). Per object, for one source address (a connection has one) and requests without a
 * namespace: a table (method → decision) for plain requests and one for those whose
 * namespace is pending (the store's tentative decisions). The second level, by the ID's text,
 * and the cache window are decision-cache.ts's.
 */
import { SpiffeId, type TrustDomain } from '../../spiffe';
import type { CompiledPolicy, Decision, DecisionRequest } from './rule';

/** Slots of the per-SpiffeId-object cache (a power of two). */
const OBJECT_SLOTS = 4096;
const SLOT_MASK = OBJECT_SLOTS - 1;

/** Method → decision (a prototype-less object: any method name is an own key). */
type DecisionTable = Record<string, Decision | undefined>;
interface ObjectTables {
  readonly id: SpiffeId;
  readonly sourceIp: string | undefined;
  readonly plain: DecisionTable;
  readonly pending: DecisionTable;
}

/** What the fast path of `decide` reads; the slow path (DecisionCache) writes it. */
export interface FastState {
  /** No rule expires: one cache window forever, no clock needed. */
  readonly timeless: boolean;
  slots: Array<ObjectTables | undefined>;
  /** The cache window: decisions cached are valid for `windowFrom <= now < windowUntil`. */
  windowFrom: number;
  windowUntil: number;
}

export function emptySlots(): Array<ObjectTables | undefined> {
  return new Array<ObjectTables | undefined>(OBJECT_SLOTS).fill(undefined);
}

/**
 * Stores a well-formed decision of a namespace-less request for its SpiffeId object (only for
 * the source address the object's tables were made for).
 */
export function rememberForObject(fast: FastState, id: SpiffeId, sourceIp: string | undefined, pending: boolean, method: string, decision: Decision): void {
  const slot = id.serial & SLOT_MASK;
  let t = fast.slots[slot];
  if (t === undefined || t.id !== id) {
    t = { id, sourceIp, plain: Object.create(null) as DecisionTable, pending: Object.create(null) as DecisionTable };
    fast.slots[slot] = t;
  }
  if (t.sourceIp === sourceIp) (pending ? t.pending : t.plain)[method] = decision;
}

/**
 * A compiled policy. A class, so that every policy shares one `decide` function: the call
 * site in the gateway stays monomorphic (and inlined) across policy changes.
 */
export class IndexedPolicy implements CompiledPolicy {
  constructor(
    readonly ownTrustDomain: TrustDomain,
    private readonly fast: FastState,
    private readonly slow: (request: DecisionRequest) => Decision,
  ) {
    Object.freeze(this);
  }

  get timeless(): boolean {
    return this.fast.timeless;
  }

  decide(request: DecisionRequest): Decision {
    // Fast path: a connection's repeated call without namespace or clock. Only SpiffeIds are
    // stored in slots, and only well-formed methods and addresses.
    const id = request.id;
    if (request.namespace === undefined && request.now === undefined && id instanceof SpiffeId) {
      const f = this.fast;
      const tables = f.slots[id.serial & SLOT_MASK];
      const method = request.method;
      if (tables !== undefined && tables.id === id && tables.sourceIp === request.sourceIp && typeof method === 'string') {
        if (f.timeless || inWindow(f, Date.now())) {
          const hit = (request.namespacePending === true ? tables.pending : tables.plain)[method];
          if (hit !== undefined) return hit;
        }
      }
    }
    return this.slow(request);
  }
}

function inWindow(f: FastState, nowMs: number): boolean {
  return nowMs >= f.windowFrom && nowMs < f.windowUntil;
}
