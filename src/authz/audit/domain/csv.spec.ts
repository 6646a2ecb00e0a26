import { auditCsvRow, AUDIT_CSV_HEADER } from './audit-output';
import { csvCell, csvRow } from './csv';

describe('csv', () => {
  it.each([
    ['plain', 'plain'],
    ['', ''],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['cr\rhere', '"cr\rhere"'],
    ['spiffe://acme.test/ns/ml', 'spiffe://acme.test/ns/ml'],
  ])('quotes per RFC 4180: %j', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it.each([
    ['=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
    ['+1+2', "'+1+2"],
    ['-2', "'-2"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tcmd', "'\tcmd"],
    ['\r=1', `"'\r=1"`],
    ['a=1', 'a=1'],
  ])('guards against formula injection: %j', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it('ends records with CRLF', () => {
    expect(csvRow(['a', 'b,c', ''])).toBe('a,"b,c",\r\n');
  });

  it('writes an audit entry under the header, microseconds and empty optionals included', () => {
    expect(AUDIT_CSV_HEADER).toBe('id,at,spiffe_id,trust_domain,source_address,method,namespace,decision,rule,reason,dry_run_denied\r\n');
    const row = auditCsvRow({
      id: 7n,
      atMicros: 1_738_324_800_123_456n,
      spiffeId: 'spiffe://p.test/a',
      trustDomain: 'p.test',
      sourceAddress: '::1',
      method: '/x.Y/Z',
      decision: 'deny',
      reason: 'no rule matched, "really"',
      dryRunDenied: ['r1', 'r2'],
    });
    expect(row).toBe('7,2025-01-31T12:00:00.123456Z,spiffe://p.test/a,p.test,::1,/x.Y/Z,,deny,,"no rule matched, ""really""",r1;r2\r\n');
  });
});
