/**
 * The decision cache behind a compiled policy's fast path (indexed-policy.ts). A decision
 * depends only on the request's fields and on which rules are expired, which changes only at
 * the rules' expiry instants. Entries are kept for the interval between two such instants
 * that contains "now"; requests for other instants bypass the cache. Only well-formed
 * requests are stored, so a hit skips validation too.
 *
 * Two levels: by SpiffeId object (indexed-policy.ts, `FastState`), then by the ID's text,
 * here: two maps (method, then SPIFFE ID) for the request without namespace or source
 * address; a third level keyed by those for the others.
 */
import { SpiffeId } from '../../spiffe';
import { emptySlots, rememberForObject, type FastState } from './indexed-policy';
import { isMalformed } from './rule-match';
import type { Decision, DecisionRequest } from './rule';

/** Decisions kept per compiled policy before the cache starts over. */
const DECISION_CACHE_ENTRIES = 100_000;
/** Cache key of requests that are not cached (an empty source address, which is malformed). */
const NO_CACHE = '\u0000';

/** Decides one request, uncached, at `nowMs`. */
export type Evaluate = (request: DecisionRequest, nowMs: number) => Decision;

export class DecisionCache {
  /** The first level and the cache window, read by IndexedPolicy's fast path. */
  readonly fast: FastState;
  #plain = new Map<string, Map<string, Decision>>();
  #keyed = new Map<string, Map<string, Map<string, Map<string, Decision>>>>();
  #cached = 0;

  /** @param expiries the rules' expiry instants, ascending */
  constructor(
    private readonly expiries: readonly number[],
    private readonly evaluate: Evaluate,
  ) {
    const timeless = expiries.length === 0;
    this.fast = { timeless, slots: emptySlots(), windowFrom: Number.NEGATIVE_INFINITY, windowUntil: timeless ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY };
  }

  /** The slow path of `decide`: the text-keyed cache, then evaluation. */
  decide(request: DecisionRequest): Decision {
    const { id, namespace, sourceIp } = request;
    if (!(id instanceof SpiffeId)) throw new TypeError('decide: id must be a SpiffeId');
    const fast = this.fast;
    // Without expiring rules the clock does not matter (one window forever).
    const nowMs = request.now !== undefined ? request.now.getTime() : fast.timeless ? 0 : Date.now();
    if (nowMs >= fast.windowUntil) this.#moveWindow(nowMs);
    if (nowMs < fast.windowFrom || Number.isNaN(nowMs)) return this.evaluate(request, nowMs);
    const pending = namespace === undefined && request.namespacePending === true;
    const decision = this.#decideByText(request, id, pending, nowMs);
    if (namespace === undefined && !isMalformed(decision)) rememberForObject(fast, id, sourceIp, pending, request.method, decision);
    return decision;
  }

  #decideByText(request: DecisionRequest, id: SpiffeId, pending: boolean, nowMs: number): Decision {
    const { method, namespace, sourceIp } = request;
    const idText = id.toString();
    // Keys: the source address ('' = none; a real address is never empty) and the
    // namespace state ('' = none, 'p' = pending, '=' + namespace), so no two requests share one.
    const ipKey = sourceIp === undefined ? '' : sourceIp === '' ? NO_CACHE : sourceIp;
    const rest = namespace !== undefined ? `=${namespace}` : pending ? 'p' : '';
    if (ipKey === '' && rest === '') {
      const hit = this.#plain.get(method)?.get(idText);
      if (hit !== undefined) return hit;
    } else if (ipKey !== NO_CACHE) {
      const hit = this.#keyed.get(method)?.get(idText)?.get(ipKey)?.get(rest);
      if (hit !== undefined) return hit;
    }
    const evaluated = this.evaluate(request, nowMs);
    if (evaluated.dryRunDenied !== undefined) Object.freeze(evaluated.dryRunDenied);
    const decision = Object.freeze(evaluated);
    if (ipKey !== NO_CACHE) this.#store(method, idText, ipKey, rest, decision, nowMs);
    return decision;
  }

  #store(method: string, idText: string, ipKey: string, rest: string, decision: Decision, nowMs: number): void {
    if (isMalformed(decision)) return;
    if (this.#cached >= DECISION_CACHE_ENTRIES) this.#moveWindow(nowMs);
    this.#cached++;
    if (ipKey === '' && rest === '') {
      let byId = this.#plain.get(method);
      if (byId === undefined) this.#plain.set(method, (byId = new Map()));
      byId.set(idText, decision);
      return;
    }
    let byId = this.#keyed.get(method);
    if (byId === undefined) this.#keyed.set(method, (byId = new Map()));
    let byIp = byId.get(idText);
    if (byIp === undefined) byId.set(idText, (byIp = new Map()));
    let byRest = byIp.get(ipKey);
    if (byRest === undefined) byIp.set(ipKey, (byRest = new Map()));
    byRest.set(rest, decision);
  }

  /** Empties the cache and sets the window to the interval between expiries containing `nowMs`. */
  #moveWindow(nowMs: number): void {
    const fast = this.fast;
    fast.slots = emptySlots();
    this.#plain = new Map();
    this.#keyed = new Map();
    this.#cached = 0;
    fast.windowFrom = Number.NEGATIVE_INFINITY;
    fast.windowUntil = Number.POSITIVE_INFINITY;
    for (const t of this.expiries) {
      if (t <= nowMs) fast.windowFrom = t;
      else {
        fast.windowUntil = t;
        break;
      }
    }
  }
}
