import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ParleyError } from '../../common';
import { parsePemCertificates, SpiffeBundle, TrustDomain, type BundleMetadata, type SpiffeId } from '../../spiffe';
import { bundleMembers, nextRotationAt, planRotation, type CaEntry, type RotationPolicy } from '../domain/ca-rotation';
import { certValidity, createRootCa, issueSvid, type CaMaterial, type IssuedSvid } from './ca-crypto';

export interface DevCaOptions {
  /** Directory for CA keys and state (`<dataDir>/dev-ca`), created with 0700; keys are 0600. */
  dir: string;
  trustDomain: TrustDomain;
  caTtlMs: number;
  svidTtlMs: number;
  publishLeadMs: number;
  now?: () => number;
}

interface State {
  trustDomain: string;
  cas: CaEntry[];
}

/**
 * The development CA: a local root per trust domain, persisted in the data directory, that
 * issues short-lived X509-SVIDs and rotates itself (publish the next CA, then sign with it,
 * then retire the old one once its SVIDs have expired). Not for production trust domains.
 */
export class DevCa {
  private state!: State;
  private readonly materials = new Map<string, CaMaterial>();
  private readonly now: () => number;

  private constructor(private readonly options: DevCaOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Loads the CA from disk, creating it (and applying any due rotation step) as needed. */
  static async open(options: DevCaOptions): Promise<DevCa> {
    const ca = new DevCa(options);
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    chmodSync(options.dir, 0o700);
    ca.load();
    await ca.rotateIfDue();
    return ca;
  }

  get trustDomain(): TrustDomain {
    return this.options.trustDomain;
  }

  get policy(): RotationPolicy {
    return { publishLeadMs: this.options.publishLeadMs, svidTtlMs: this.options.svidTtlMs };
  }

  /** When the next rotation step falls due (ms; now when one is due already). */
  nextRotationAt(): number {
    return nextRotationAt(this.state.cas, this.now(), this.policy);
  }

  /** Applies due rotation steps; returns true when the bundle or the signing CA changed. */
  async rotateIfDue(): Promise<boolean> {
    let changed = false;
    for (let step = 0; step < 8; step++) {
      const action = planRotation(this.state.cas, this.now(), this.policy);
      if (action.kind === 'none') break;
      changed = true;
      if (action.kind === 'create-initial') {
        for (const c of this.state.cas) if (c.status !== 'retired') c.status = 'retired';
        const entry = await this.createCa('active');
        entry.activatedAt = this.now();
      } else if (action.kind === 'prepare') {
        await this.createCa('published');
      } else if (action.kind === 'activate') {
        const now = this.now();
        for (const c of this.state.cas) {
          if (c.status === 'active') {
            c.status = 'previous';
            c.deactivatedAt = now;
          }
        }
        const next = this.entry(action.id);
        next.status = 'active';
        next.activatedAt = now;
      } else {
        this.entry(action.id).status = 'retired';
      }
      this.save();
    }
    return changed;
  }

  /** Starts a rotation now: publishes a new CA (it signs after the publish lead time). */
  async prepareRotation(): Promise<void> {
    if (this.state.cas.some((c) => c.status === 'published')) return;
    await this.createCa('published');
    this.save();
  }

  /** The trust bundle: every CA that may have signed a live SVID or is about to sign. */
  bundle(meta: BundleMetadata = { sequence: 0n, refreshHint: 300 }): SpiffeBundle {
    const certs = bundleMembers(this.state.cas).flatMap((c) => parsePemCertificates(this.material(c.id).certPem));
    return SpiffeBundle.fromX509Authorities(this.options.trustDomain, certs, meta);
  }

  bundlePem(): string {
    return bundleMembers(this.state.cas)
      .map((c) => this.material(c.id).certPem.trim())
      .join('\n')
      .concat('\n');
  }

  /** Issues an X509-SVID for an ID of this trust domain (with DNS SANs when given). */
  async issue(id: SpiffeId, ttlMs = this.options.svidTtlMs, dnsNames: readonly string[] = []): Promise<IssuedSvid> {
    if (!id.trustDomain.equals(this.options.trustDomain)) {
      throw new ParleyError('invalid_argument', `dev ca: ${id.toString()} is not in trust domain ${this.options.trustDomain.name}`);
    }
    if (id.path === '') throw new ParleyError('invalid_argument', 'dev ca: an X509-SVID needs a SPIFFE ID with a path');
    await this.rotateIfDue();
    const active = this.state.cas.find((c) => c.status === 'active');
    if (!active) throw new ParleyError('internal', 'dev ca: no active CA after rotation');
    return issueSvid(this.material(active.id), id.toString(), ttlMs, new Date(this.now()), dnsNames);
  }

  /** The CA entries, for status and tests. */
  entries(): readonly CaEntry[] {
    return this.state.cas.map((c) => ({ ...c }));
  }

  private load(): void {
    const file = join(this.options.dir, 'state.json');
    if (!existsSync(file)) {
      this.state = { trustDomain: this.options.trustDomain.name, cas: [] };
      return;
    }
    let parsed: State;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as State;
    } catch (err) {
      throw new ParleyError('config_invalid', `dev ca: ${file} is not valid JSON; move it away to start a new CA`, { cause: err });
    }
    if (parsed.trustDomain !== this.options.trustDomain.name) {
      throw new ParleyError(
        'config_invalid',
        `dev ca: the CA in ${this.options.dir} is for trust domain ${parsed.trustDomain}, not ${this.options.trustDomain.name}; use another dataDir or move it away`,
      );
    }
    this.state = parsed;
  }

  private save(): void {
    const file = join(this.options.dir, 'state.json');
    writeAtomic(file, `${JSON.stringify(this.state, null, 2)}\n`, 0o600);
  }

  private async createCa(status: 'active' | 'published'): Promise<CaEntry> {
    const now = this.now();
    const material = await createRootCa(this.options.trustDomain.name, new Date(now - 60_000), new Date(now + this.options.caTtlMs));
    const v = certValidity(material.certPem);
    const id = v.fingerprint256.replace(/:/g, '').slice(0, 16).toLowerCase();
    writeAtomic(join(this.options.dir, `ca-${id}.key.pem`), material.keyPem, 0o600);
    writeAtomic(join(this.options.dir, `ca-${id}.cert.pem`), material.certPem, 0o644);
    this.materials.set(id, material);
    const entry: CaEntry = { id, status, notBefore: v.notBefore, notAfter: v.notAfter, publishedAt: now };
    this.state.cas.push(entry);
    return entry;
  }

  private entry(id: string): CaEntry {
    const e = this.state.cas.find((c) => c.id === id);
    if (!e) throw new ParleyError('internal', `dev ca: unknown CA ${id}`);
    return e;
  }

  private material(id: string): CaMaterial {
    let m = this.materials.get(id);
    if (!m) {
      const base = join(this.options.dir, `ca-${id}`);
      try {
        m = { certPem: readFileSync(`${base}.cert.pem`, 'utf8'), keyPem: readFileSync(`${base}.key.pem`, 'utf8') };
      } catch (err) {
        throw new ParleyError('config_invalid', `dev ca: CA files for ${id} are missing in ${this.options.dir}`, { cause: err });
      }
      this.materials.set(id, m);
    }
    return m;
  }
}

function writeAtomic(file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}
