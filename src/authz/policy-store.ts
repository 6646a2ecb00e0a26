/**
 * The authorization policy kept in PostgreSQL and hot-reloaded on every replica.
 *
 * Reads are in memory: `current()` returns the last compiled policy synchronously. Every
 * change is one transaction that locks the policy version, reads all rules, applies the
 * change, validates the WHOLE resulting set against the served methods, writes it, bumps
 * the version and sends NOTIFY parley_authz_policy (delivered at commit); the writer then
 * reloads before returning, the other replicas reload on the notification (and on every
 * change-feed resync). Reloads run one at a time; a failed reload keeps the policy in force.
 *
 * Rules declared in the config file (authz.policy.rules) are written at start with source
 * `config`, first and in config order, before the other rules (which keep their order);
 * config rows no longer declared are removed. The API cannot change them (409). The SQL is
 * policy.repository.ts's.
 */
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import type { ChangeEvent } from '../database';
import { compilePolicy, validateRules, type CompiledPolicy, type Decision, type DecisionRequest, type MethodRegistry, type Rule } from './domain';
import type { PolicySource } from './ports';
import { loadPolicy, type RuleProblem } from './policy-load';
import { CONFIG_FIELD, ruleFromJson, rulesFromJson, ruleToJson, splitRuleField } from './policy-json';
import { canonical, countConfigPrefix, describe, fresh, indexOfEditable, invalid, keep, type Planned } from './policy-plan';
import { POLICY_CHANNEL, type DesiredRow, type PolicyRow } from './policy-rows';
import { PolicyRepository } from './policy.repository';

/**
 * Where the rules are stored: a PolicyRepository, or the DataSource to make one from
 * (`repository` wins when both are given).
 */
export type PolicyStorage = { readonly repository: PolicyRepository; readonly dataSource?: DataSource } | { readonly repository?: undefined; readonly dataSource: DataSource };

export interface PolicySettings {
  /** The gateway's change feed (only `subscribe` is used). */
  readonly changes: { subscribe(channel: string, handler: (event: ChangeEvent) => void): () => void };
  /** The served methods rules may name. */
  readonly registry: MethodRegistry;
  readonly ownTrustDomain: string;
  /** authz.policy.rules as configured (JSON shape of the API); undefined = none declared. */
  readonly configRules?: readonly unknown[];
  /** What the `federated` keyword admits (default: every trust domain other than own). */
  readonly federatedTrustDomains?: () => Iterable<string>;
  readonly logger: Logger;
}

export type PolicyStoreOptions = PolicyStorage & PolicySettings;

export interface WriteOptions {
  /** Who changes the policy (the admin's SPIFFE ID), stored as created_by of new rules. */
  readonly actor: string;
}

/** A stored rule with its metadata, as the admin API lists it. */
export interface PolicyEntry extends Omit<PolicyRow, 'rule'> {
  /** The stored JSON (`expiresAt` as RFC 3339). */
  readonly rule: unknown;
  /** Why (part of) this rule is not in force; absent when it is, entirely. */
  readonly problems?: readonly RuleProblem[];
}

export interface PolicyStatus {
  readonly version: number;
  readonly loadedAt?: Date;
  /** Rules in force. */
  readonly rules: number;
  readonly problems: readonly RuleProblem[];
  readonly denyAll?: string;
  /** Served methods no allow rule reaches. */
  readonly unreachable: readonly string[];
  /** The last reload failure, cleared by the next success. */
  readonly lastError?: string;
}

export type Explanation = Decision & { readonly version: number };

interface Snapshot {
  readonly version: number;
  readonly rules: readonly Rule[];
  readonly entries: readonly PolicyEntry[];
  readonly compiled: CompiledPolicy;
  readonly problems: readonly RuleProblem[];
  readonly denyAll?: string;
  readonly unreachable: readonly string[];
  readonly loadedAt?: Date;
}


export class PolicyStore implements PolicySource {
  /** The policy in force (what `current()` returns), a plain field: the call authorizer reads it on every call. */
  compiled: CompiledPolicy;
  #snapshot: Snapshot;
  #lastError: string | undefined;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #log: Logger;
  readonly #repository: PolicyRepository;

  constructor(private readonly o: PolicyStoreOptions) {
    this.#log = o.logger;
    this.#repository = o.repository !== undefined ? o.repository : new PolicyRepository(o.dataSource);
    // Until the first load: deny everything (fail closed).
    this.#snapshot = { version: 0, rules: [], entries: [], compiled: compilePolicy([], { ownTrustDomain: o.ownTrustDomain }), problems: [], unreachable: o.registry.methods() };
    this.compiled = this.#snapshot.compiled;
  }

  /**
   * Writes the config-declared rules, loads and compiles the policy, follows changes.
   * @throws ParleyError config_invalid naming the field of an invalid config rule; database errors
   */
  async start(): Promise<void> {
    await this.syncConfig();
    this.#unsubscribe = this.o.changes.subscribe(POLICY_CHANNEL, (event) => this.onChange(event));
    await this.reload();
    if (this.#lastError !== undefined) throw new ParleyError('unavailable', `authorization policy: cannot load: ${this.#lastError}`);
    const s = this.#snapshot;
    if (s.unreachable.length > 0) {
      this.#log.warn({ unreachable: s.unreachable, version: s.version }, 'authorization policy: no allow rule reaches these served methods (they are denied to every caller)');
    }
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#queued?.catch(() => undefined);
    await this.#running?.catch(() => undefined);
  }

  current(): CompiledPolicy {
    return this.compiled;
  }

  /** The rules in force, in order. */
  rules(): readonly Rule[] {
    return this.#snapshot.rules;
  }

  /** Every stored rule with its metadata, in order (as of the last load). */
  entries(): readonly PolicyEntry[] {
    return this.#snapshot.entries;
  }

  /** The served methods rules may name. */
  get registry(): MethodRegistry {
    return this.o.registry;
  }

  get version(): number {
    return this.#snapshot.version;
  }

  status(): PolicyStatus {
    const s = this.#snapshot;
    return {
      version: s.version,
      rules: s.rules.length,
      problems: s.problems,
      unreachable: s.unreachable,
      ...(s.loadedAt === undefined ? {} : { loadedAt: s.loadedAt }),
      ...(s.denyAll === undefined ? {} : { denyAll: s.denyAll }),
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  /** The current policy's decision on `request`, with the policy version. */
  explain(request: DecisionRequest): Explanation {
    const s = this.#snapshot;
    return { ...s.compiled.decide(request), version: s.version };
  }

  /**
   * Adds a rule at `position` (0 = first of all rules; default: last). Config-declared rules
   * stay first, so a position among them is refused.
   * @throws ValidationError (fields relative to the rule, or `position`)
   */
  async add(rule: Rule, options: WriteOptions & { position?: number }): Promise<Rule> {
    await this.write(options.actor, (rows, configCount) => {
      if (rows.some((r) => r.id === rule.id)) throw invalid('policy: invalid rule', [{ field: 'id', message: `a rule with id "${rule.id}" exists` }]);
      const at = options.position ?? rows.length;
      if (!Number.isInteger(at) || at < configCount || at > rows.length) {
        throw invalid('policy: invalid rule', [{ field: 'position', message: `must be an integer from ${configCount} to ${rows.length}${configCount > 0 ? ' (the config-declared rules come first)' : ''}` }]);
      }
      const next = rows.map(keep);
      next.splice(at, 0, fresh(rule));
      return { next, subject: at };
    });
    return rule;
  }

  /**
   * Replaces the rule `id` (same position).
   * @throws ParleyError not_found | conflict (config-declared) ; ValidationError
   */
  async update(id: string, rule: Rule, options: WriteOptions): Promise<Rule> {
    if (rule.id !== id) throw invalid('policy: invalid rule', [{ field: 'id', message: 'must match the rule id of the path' }]);
    await this.write(options.actor, (rows) => {
      const at = indexOfEditable(rows, id);
      const next = rows.map(keep);
      next[at] = fresh(rule);
      return { next, subject: at };
    });
    return rule;
  }

  /** @throws ParleyError not_found | conflict (config-declared) */
  async remove(id: string, options: WriteOptions): Promise<void> {
    await this.write(options.actor, (rows) => {
      const at = indexOfEditable(rows, id);
      return { next: rows.filter((_, i) => i !== at).map(keep) };
    });
  }

  /** Appends `rules` after the existing ones, atomically. Field errors name `rules[i]` of the given list. */
  async addAll(rules: readonly Rule[], options: WriteOptions): Promise<void> {
    await this.write(options.actor, (rows) => {
      const next = rows.map(keep);
      for (const rule of rules) next.push(fresh(rule));
      return { next, offset: rows.length };
    });
  }

  /**
   * Replaces every rule except the config-declared ones (which stay first) with `rules`,
   * atomically. Field errors name `rules[i]` of the given list.
   */
  async replaceAll(rules: readonly Rule[], options: WriteOptions): Promise<void> {
    await this.write(options.actor, (rows, configCount) => {
      const next = rows.slice(0, configCount).map(keep);
      for (const rule of rules) next.push(fresh(rule));
      return { next, offset: configCount };
    });
  }

  /** Reloads from the database (serialized; concurrent requests share one pending run). */
  reload(): Promise<void> {
    if (this.#queued !== undefined) return this.#queued;
    const previous = this.#running ?? Promise.resolve();
    const run: Promise<void> = previous.then(async () => {
      this.#queued = undefined;
      this.#running = run;
      try {
        await this.loadOnce();
      } finally {
        if (this.#running === run) this.#running = undefined;
      }
    });
    this.#queued = run;
    return run;
  }

  private onChange(event: ChangeEvent): void {
    if (!event.resync) {
      const v = Number(event.payload);
      if (Number.isInteger(v) && v <= this.#snapshot.version) return;
    }
    void this.reload();
  }

  private async loadOnce(): Promise<void> {
    let loaded;
    let snapshot;
    try {
      snapshot = await this.#repository.read();
      loaded = loadPolicy(snapshot.rows, this.o.registry, this.o.ownTrustDomain, this.o.federatedTrustDomains?.());
    } catch (err) {
      this.#lastError = err instanceof Error ? err.message : String(err);
      this.#log.error({ err, version: this.#snapshot.version }, 'authorization policy: reload failed; the previous policy stays in force');
      return;
    }
    this.#lastError = undefined;
    const byId = new Map<string, RuleProblem[]>();
    for (const p of loaded.problems) byId.set(p.id, [...(byId.get(p.id) ?? []), p]);
    const entries = snapshot.rows.map((r) => (byId.has(r.id) ? { ...r, problems: byId.get(r.id)! } : r));
    const previous = this.#snapshot;
    this.#snapshot = {
      version: snapshot.version,
      rules: Object.freeze(loaded.rules),
      entries: Object.freeze(entries),
      compiled: loaded.compiled,
      problems: loaded.problems,
      unreachable: this.o.registry.unreachable(loaded.rules, this.o.ownTrustDomain),
      loadedAt: new Date(),
      ...(loaded.denyAll === undefined ? {} : { denyAll: loaded.denyAll }),
    };
    this.compiled = loaded.compiled;
    if (loaded.problems.length > 0 && (previous.version !== snapshot.version || previous.problems.length !== loaded.problems.length)) {
      this.#log.error({ problems: loaded.problems, denyAll: loaded.denyAll, version: snapshot.version }, 'authorization policy: stored rules that do not validate are not in force');
    }
    if (previous.version !== snapshot.version) this.#log.info({ version: snapshot.version, rules: loaded.rules.length }, 'authorization policy loaded');
  }

  /** Writes authz.policy.rules (validated alone: stored rules that went stale never block a start). */
  private async syncConfig(): Promise<void> {
    const declared = this.o.configRules ?? [];
    const { rules, errors } = rulesFromJson(declared, this.o.registry, CONFIG_FIELD);
    if (errors.length > 0) {
      const first = errors[0]!;
      throw new ParleyError('config_invalid', `${first.field}: ${first.message}`, { details: { field: first.field, errors: errors.length } });
    }
    const ids = new Set(rules.map((r) => r.id));
    const version = await this.#repository.change('config', (rows) => {
      const next: DesiredRow[] = [
        ...rules.map((r): DesiredRow => ({ id: r.id, rule: ruleToJson(r), source: 'config' })),
        ...rows.filter((r) => !ids.has(r.id) && r.source !== 'config').map((r) => ({ id: r.id, rule: r.rule, source: r.source })),
      ];
      const same = next.length === rows.length && next.every((d, i) => d.id === rows[i]!.id && d.source === rows[i]!.source && canonical(d.rule) === canonical(rows[i]!.rule));
      return same ? undefined : next;
    });
    if (version !== undefined) this.#log.info({ version, declared: rules.length }, 'authorization policy: config-declared rules written');
  }

  /**
   * One change: `change` maps the locked rows to the desired list (and says which index is
   * the rule being written, for error paths); the whole result is validated before writing.
   */
  private async write(actor: string, change: (rows: PolicyRow[], configCount: number) => { next: Planned[]; subject?: number; offset?: number }): Promise<void> {
    await this.#repository.change(actor, (rows) => {
      const configCount = countConfigPrefix(rows);
      const { next, subject, offset } = change(rows, configCount);
      // The rules given are validated as given; stored ones as read (raw when unreadable, so
      // validateRules reports them). Stored rules the change leaves as they are do not block
      // it: if they no longer validate they are out of force already (policy-load.ts).
      const candidates = next.map((p) => {
        if (p.input !== undefined) return p.input;
        const rule = ruleFromJson(p.stored, 'rule', []);
        return rule ?? (p.stored as Rule);
      });
      const untouched = (field: string): boolean => {
        const at = splitRuleField(field);
        return at !== undefined && next[at.index] !== undefined && next[at.index]!.input === undefined;
      };
      const errors = validateRules(candidates, this.o.registry).filter((e) => !untouched(e.field));
      if (errors.length > 0) throw invalid(subject === undefined ? 'policy: invalid rules' : 'policy: invalid rule', describe(errors, next, subject, offset));
      return next.map((p): DesiredRow => ({ id: p.id, source: p.source, rule: p.input !== undefined ? ruleToJson(p.input) : p.stored }));
    });
    await this.reload();
  }
}
