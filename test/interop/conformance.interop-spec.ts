import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/ports';
import { startGateway, type Gateway, type Svid } from './support/gateway';
import { peer, run, startPeer, type RunningPeer } from './support/peers';

/** A testcase of the suite's junit.xml: its path in the suite's tree ("OCI Conformance Test/<set>/…") and how it ended. */
interface SuiteCase {
  readonly name: string;
  /** The data or API set it belongs to: the second element of its path. */
  readonly set: string;
  readonly status: string;
  /** The suite's reason (system-out of the testcase). */
  readonly reason: string;
  /** The exchanges of the case, from the request log in system-err. */
  readonly exchanges: readonly Exchanged[];
}

/** One request of the suite and the registry's answer, as the suite logged them. */
interface Exchanged {
  readonly method: string;
  /** The path after the repository: `manifests/<ref>`, `blobs/…`, `referrers/<digest>`, `tags/list`. */
  readonly path: string;
  readonly status: number;
  readonly digestHeader?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

const unescapeXml = (s: string) =>
  s
    .replace(/&#xA;/g, '\n')
    .replace(/&#x9;/g, '\t')
    .replace(/&#34;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The testcases of the suite's junit.xml (one per leaf test). */
function junitCases(xml: string): SuiteCase[] {
  const cases: SuiteCase[] = [];
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const attr = (name: string) => unescapeXml(new RegExp(`\\b${name}="([^"]*)"`).exec(m[1])?.[1] ?? '');
    const body = m[2] ?? '';
    const section = (tag: string) => unescapeXml(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(body)?.[1] ?? '');
    const exchanges: Exchanged[] = [];
    for (const logged of section('system-err').split('~~~ REQUEST ~~~').slice(1)) {
      const request = /^\s*Method: (\w+)\nURL: \S*?\/v2\/conformance\/repo[12]\/(\S*)/.exec(logged);
      const [, response = ''] = logged.split('~~~ RESPONSE ~~~');
      const status = /^\s*Status: (\d{3})/.exec(response);
      if (request === null || status === null) continue;
      const error = /\{"errors":\[\{"code":"([A-Z_]+)","message":"((?:[^"\\]|\\.)*)"/.exec(response);
      const digestHeader = /Docker-Content-Digest: \[(sha256:[0-9a-f]{64})\]/.exec(response)?.[1];
      exchanges.push({ method: request[1], path: request[2].split('?')[0], status: Number(status[1]), digestHeader, error: error === null ? undefined : { code: error[1], message: error[2] } });
    }
    const name = attr('name');
    cases.push({ name, set: name.split('/')[1] ?? name, status: attr('status'), reason: section('system-out').trim(), exchanges });
  }
  return cases;
}

/**
 * Sets whose referrers have a subject that is no record (missing, or an image of two layers kept
 * as pushed): pushed by digest or by tag they are taken (the spec's MUST), readable by digest and
 * listed by the referrers API.
 */
const SUBJECTLESS_SETS = ['missing-subject', 'artifacts-with-subject'];

/**
 * Sets pushed by tag (a named tag such as "artifact" or "tagged-artifact"): their manifests are
 * records or referrers, taken by tag, read back and listed by tag; they pass whole.
 */
const TAGGED_SETS = ['artifact', 'artifact-without-layers', 'missing-subject'];
const BY_TAG_CASES = ['push/manifest-by-tag', 'head/manifest-head-by-tag', 'pull/manifest-by-tag', 'tag-list'];

/**
 * The sets that must pass whole: the registry's API behaviour, and every kind of manifest the
 * suite pushes (README, "The OCI registry face", Mapping): records (one layer), referrers (a
 * subject, there or not), images of several layers or none and image indexes (kept as pushed,
 * their blobs records of their own).
 */
const CLEAN_SETS = [
  'ping',
  'empty',
  'sha256 blobs',
  'bad-digest-image',
  'missing-manifest',
  'invalid-digest-format',
  'image',
  'image-uncompressed',
  'large-manifest',
  'index',
  'nested-index',
  'empty-index',
  'artifact',
  'artifact-index',
  'artifact-without-layers',
  'artifacts-with-subject',
  'index-with-subject',
  'missing-subject',
  'data-field',
  'non-distributable-layers',
  'custom-fields',
  'no-layers',
];

/** How a failed case ended: the suite's reason and the registry's last error answer. */
function failure(c: SuiteCase): string {
  const e = [...c.exchanges].reverse().find((x) => x.error !== undefined);
  const last = e === undefined ? 'no error answer' : `${e.method} ${e.path}: ${e.status} ${e.error?.code} ${e.error?.message}`;
  return `${c.name} (${last})\n    ${c.reason.replace(/\n/g, '\n    ')}`;
}

/**
 * The OCI distribution-spec conformance suite (pinned in test/interop/conformance/go.mod)
 * against the registry face: pull, push, content discovery (tags list, referrers) and content
 * management (DELETE of tags, manifests, blobs). The suite speaks plain HTTP or server-only
 * TLS, the registry face admits mutual TLS only: the suite dials the mtls-bridge
 * (test/interop/conformance/mtls-bridge), which forwards each request unchanged over mutual TLS
 * with the client SVID and verifies the gateway against the bundle.
 */
describe('the OCI distribution-spec conformance suite against the registry face', () => {
  let gw: Gateway;
  let bridge: RunningPeer;
  let bridgeAddr: string;
  let upstream: string;
  let client: Svid;

  beforeAll(async () => {
    const port = await freePort();
    gw = await startGateway({ identity: { devCa: { dnsNames: ['localhost'] } }, registry: { enabled: true, host: '127.0.0.1', port } });
    // An own-domain caller: every Store method is allowed to it by default.
    client = await gw.issue('spiffe://parley.local/ns/interop/conformance');
    upstream = `localhost:${port}`;
    bridge = startPeer(peer('mtls-bridge'), ['-upstream', upstream, '-cert', client.cert, '-key', client.key, '-bundle', client.bundle]);
    bridgeAddr = String((await bridge.line((l) => typeof l.listen === 'string')).listen);
  });
  afterAll(async () => {
    await bridge?.stop();
    await gw?.stop();
  });

  it('the bridge reaches the gateway only when it verifies it: trusting its own leaf instead of the bundle, nothing passes (502)', async () => {
    expect((await fetch(`http://${bridgeAddr}/v2/`)).status).toBe(200);
    const untrusting = startPeer(peer('mtls-bridge'), ['-upstream', upstream, '-cert', client.cert, '-key', client.key, '-bundle', client.cert]);
    try {
      const addr = String((await untrusting.line((l) => typeof l.listen === 'string')).listen);
      expect((await fetch(`http://${addr}/v2/`)).status).toBe(502);
      expect(untrusting.output()).toContain('certificate signed by unknown authority');
    } finally {
      await untrusting.stop();
    }
  });

  it('passes pull, push, content discovery and content management, every data set', async () => {
    // Outside the gateway's folder (removed when it stops): after a failure the reports stay for a look.
    const results = mkdtempSync(join(tmpdir(), 'parley-conformance-'));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: gw.dir,
      OCI_VERSION: '1.1',
      OCI_REGISTRY: bridgeAddr,
      OCI_TLS: 'disabled', // plain HTTP to the bridge on 127.0.0.1; from the bridge to the gateway, mutual TLS
      OCI_REPO1: 'conformance/repo1',
      OCI_REPO2: 'conformance/repo2',
      OCI_RESULTS_DIR: results,
      OCI_LOG: 'warn',
      OCI_API_PULL: 'true',
      OCI_API_PUSH: 'true',
      OCI_API_TAGS_LIST: 'true',
      OCI_API_REFERRER: 'true',
      // Beyond v1.1's defaults, what the registry face does: it cancels uploads and answers Docker-Content-Digest.
      OCI_API_BLOBS_UPLOAD_CANCEL: 'true',
      OCI_API_BLOBS_DIGEST_HEADER: 'true',
      OCI_API_MANIFESTS_DIGEST_HEADER: 'true',
      // Content management: DELETE of tags, manifests and blobs, each checked gone at once.
      OCI_API_TAGS_DELETE: 'true',
      OCI_API_MANIFESTS_DELETE: 'true',
      OCI_API_BLOBS_DELETE: 'true',
      // A CID is a SHA-256: the store holds sha256 digests only (the spec requires sha256, sha512 is optional).
      OCI_DATA_SHA512: 'false',
    };
    const started = Date.now();
    // cwd: the gateway's temporary folder, where no oci-conformance.yaml can be picked up.
    const r = await run(peer('oci-conformance'), [], { env, cwd: gw.dir, timeoutMs: 120_000 });
    const took = Date.now() - started;
    const junit = join(results, 'junit.xml');
    const cases = existsSync(junit) ? junitCases(readFileSync(junit, 'utf8')) : [];
    const failed = cases.filter((c) => c.status === 'failure' || c.status === 'error');
    const unexpected = failed.map(failure);
    // The suite's summary table ("Blob chunked....: Pass"), not its whole tree of cases.
    const table = r.stdout.split('\n').filter((l) => /\.{3,}:/.test(l));
    const report = `exit ${r.code} after ${took} ms; reports (report.html, junit.xml) in ${results}\n--- suite summary ---\n${table.join('\n')}\n${r.stderr.slice(-2000)}`;
    // On failure, each failed case with the suite's reason and the registry's answer; then the suite's own summary.
    expect(unexpected.length === 0 ? [] : [...unexpected, report]).toEqual([]);
    expect(cases.length).toBeGreaterThan(100);
    // The suite exits 0 when no case failed (not killed, not crashed).
    expect({ code: r.code, report }).toEqual({ code: 0, report });

    const sets = new Map<string, { passed: number; failed: number }>();
    for (const c of cases) {
      const s = sets.get(c.set) ?? { passed: 0, failed: 0 };
      if (c.status === 'passed') s.passed++;
      if (failed.includes(c)) s.failed++;
      sets.set(c.set, s);
    }
    // Every set ran, and passed.
    for (const set of CLEAN_SETS) expect({ set, ...sets.get(set) }).toEqual({ set, passed: expect.any(Number), failed: 0 });
    expect(sets.get('sha256 blobs')?.passed).toBeGreaterThan(40);
    // A referrer pushed before (or without) its subject: taken by digest, read back, listed.
    const statuses = (set: string, leaf: string) => cases.filter((c) => c.name === `OCI Conformance Test/${set}/${leaf}`).map((c) => c.status);
    for (const set of SUBJECTLESS_SETS) expect({ set, referrers: statuses(set, 'referrers') }).toEqual({ set, referrers: ['passed'] });
    const bySubjectlessDigest = ['push/manifest-by-digest', 'head/manifest-head-by-digest', 'pull/manifest-by-digest'].map((leaf) => [leaf, statuses('missing-subject', leaf)]);
    expect(bySubjectlessDigest).toEqual([
      ['push/manifest-by-digest', ['passed']],
      ['head/manifest-head-by-digest', ['passed']],
      ['pull/manifest-by-digest', ['passed']],
    ]);
    // A set pushed by tag passes whole, each by-tag case ran and passed.
    for (const set of TAGGED_SETS) {
      expect({ set, ...sets.get(set) }).toEqual({ set, passed: expect.any(Number), failed: 0 });
      const byTag = BY_TAG_CASES.map((leaf) => [leaf, statuses(set, leaf).length > 0 && statuses(set, leaf).every((st) => st === 'passed')]);
      expect({ set, byTag }).toEqual({ set, byTag: BY_TAG_CASES.map((leaf) => [leaf, true]) });
    }
    rmSync(results, { recursive: true }); // passed: the reports are not needed
  });
});
