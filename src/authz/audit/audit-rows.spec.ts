import { AuditQueue, CODED_COLUMNS, columns, type IdentifiedRecord } from './audit-rows';
import { auditColumns } from '../../../test/support/audit-columns';
import type { AuditRecord } from '../ports';
import { parseArrayLiteral } from '../../../test/support/pg-array-literal';

/** node-postgres's own conversion of a query parameter (the module ships no type declarations). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require('pg/lib/utils') as { prepareValue(value: unknown): unknown };

const ID1 = '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b';
const ID2 = '0190a1b2-c3d4-7e5f-9a6b-7c8d9e0f1a2c';
const ID3 = '0190a1b2-c3d4-7e5f-aa6b-7c8d9e0f1a2d';

function entry(over: Partial<IdentifiedRecord>): IdentifiedRecord {
  return {
    entryId: ID1,
    at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
    spiffeId: 'spiffe://acme.test/ns/ml/sa/trainer',
    trustDomain: 'acme.test',
    sourceAddress: '127.0.0.1',
    method: '/parley.store.v1.StoreService/Lookup',
    decision: 'allow',
    reason: 'rule r1',
    ...over,
  };
}

describe('columns: a batch as the INSERT parameters', () => {
  const long = 'x'.repeat(5000);
  const batch = [
    entry({ namespace: 'ml', rule: 'r1', dryRunDenied: ['d"1', 'd\\2'] }),
    entry({ entryId: ID2, decision: 'deny', reason: 'say "no" \\ twice,{}', namespace: '', rule: undefined, spiffeId: 'a\u0000b' }),
    entry({ entryId: ID3, at: new Date(Number.NaN), reason: long, method: 'NULL', decision: 'maybe' as 'deny', dryRunDenied: ['d"1', 'd\\2'], spiffeId: 'a\uFFFDb' }),
  ];
  const now = Date.UTC(2026, 5, 1);

  it('gives PostgreSQL the cleaned value of every row and column', () => {
    expect(auditColumns(columns(batch, now))).toEqual({
      at: ['2026-01-02T03:04:05.678Z', '2026-01-02T03:04:05.678Z', new Date(now).toISOString()],
      entry_id: [ID1, ID2, ID3],
      spiffe_id: ['spiffe://acme.test/ns/ml/sa/trainer', 'a\uFFFDb', 'a\uFFFDb'],
      trust_domain: ['acme.test', 'acme.test', 'acme.test'],
      source_address: ['127.0.0.1', '127.0.0.1', '127.0.0.1'],
      method: ['/parley.store.v1.StoreService/Lookup', '/parley.store.v1.StoreService/Lookup', 'NULL'],
      namespace: ['ml', null, null],
      decision: ['allow', 'deny', 'deny'],
      rule: ['r1', null, null],
      reason: ['rule r1', 'say "no" \\ twice,{}', 'x'.repeat(4096)],
      dry_run_denied: [JSON.stringify(['d"1', 'd\\2']), null, JSON.stringify(['d"1', 'd\\2'])],
    });
  });

  it('sends each distinct value of a column once, in array literals as node-postgres writes them', () => {
    const params = columns(batch, now);
    expect(params).toHaveLength(2 + 2 * CODED_COLUMNS.length);
    expect(params[0]).toBe(prepareValue(['2026-01-02T03:04:05.678Z', '2026-01-02T03:04:05.678Z', new Date(now).toISOString()]));
    expect(params[1]).toBe(prepareValue([ID1, ID2, ID3]));
    const spiffe = 2 + 2 * CODED_COLUMNS.indexOf('spiffe_id');
    // Two spellings that clean alike (NUL and U+FFFD) are one value.
    expect(params.slice(spiffe, spiffe + 2)).toEqual([prepareValue(['spiffe://acme.test/ns/ml/sa/trainer', 'a\uFFFDb']), '{1,2,2}']);
    const namespace = 2 + 2 * CODED_COLUMNS.indexOf('namespace');
    expect(params.slice(namespace, namespace + 2)).toEqual([prepareValue(['ml']), '{1,0,0}']);
    const reason = 2 + 2 * CODED_COLUMNS.indexOf('reason');
    expect(params[reason]).toBe(prepareValue(['rule r1', 'say "no" \\ twice,{}', 'x'.repeat(4096)]));
  });

  it('makes empty arrays of an empty batch', () => {
    expect(columns([], 0)).toEqual(new Array(2 + 2 * CODED_COLUMNS.length).fill('{}'));
  });
});

describe('AuditQueue', () => {
  const record = (reason: string): AuditRecord => ({ at: new Date(1_700_000_000_000), spiffeId: 's', trustDomain: 't', sourceAddress: 'a', method: 'm', decision: 'allow', reason });

  it('gives each entry its id when first read out, and the same id on every later read', () => {
    const queue = new AuditQueue(4);
    queue.push(record('a'));
    queue.push(record('b'));
    const first = queue.peek(1);
    expect(first[0]!.entryId).toMatch(/^018bcfe5-6800-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const again = queue.peek(2);
    expect(again[0]!.entryId).toBe(first[0]!.entryId);
    expect(again[1]!.entryId).not.toBe(first[0]!.entryId);
    expect(queue.peek(2).map((e) => e.entryId)).toEqual(again.map((e) => e.entryId));
    expect(again.map((e) => e.reason)).toEqual(['a', 'b']);
    queue.discard(1);
    expect(queue.peek(1)[0]!.entryId).toBe(again[1]!.entryId);
  });

  it('keeps an id the entry came with', () => {
    const queue = new AuditQueue(2);
    queue.push({ ...record('a'), entryId: ID1 });
    expect(queue.peek(1)[0]!.entryId).toBe(ID1);
  });

  it('copies every field of an entry whose fields are getters', () => {
    class Getters implements AuditRecord {
      readonly method = 'm';
      readonly decision = 'deny' as const;
      readonly reason = 'r';
      readonly namespace = 'ns';
      get at(): Date {
        return new Date(1_700_000_000_000);
      }
      get spiffeId(): string {
        return 'spiffe://acme.test/w';
      }
      get trustDomain(): string {
        return 'acme.test';
      }
      get sourceAddress(): string {
        return '10.0.0.1';
      }
    }
    const queue = new AuditQueue(1);
    queue.push(new Getters());
    const [e] = queue.peek(1);
    expect(e).toEqual({ entryId: expect.any(String), at: new Date(1_700_000_000_000), spiffeId: 'spiffe://acme.test/w', trustDomain: 'acme.test', sourceAddress: '10.0.0.1', method: 'm', decision: 'deny', reason: 'r', namespace: 'ns' });
    expect(e!.entryId.slice(0, 13)).toBe('018bcfe5-6800');
  });
});

describe('the array literal reader of the database doubles', () => {
  it('reads back what node-postgres writes', () => {
    const values = ['a', '', 'b"c', 'd\\e', null, 'NULL', ',{}', '\uFFFD'];
    expect(parseArrayLiteral(prepareValue(values))).toEqual(values);
    expect(parseArrayLiteral('{}')).toEqual([]);
    expect(parseArrayLiteral('{1,20,0}')).toEqual(['1', '20', '0']);
    expect(() => parseArrayLiteral('{a"}')).toThrow();
    expect(() => parseArrayLiteral('{1,,2}')).toThrow();
    expect(() => parseArrayLiteral(['a'])).toThrow();
  });
});
