/** The README's examples fit together: what one example revokes is not an identity another then uses. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const readme = readFileSync(join(__dirname, '../../../README.md'), 'utf8');
const all = (re: RegExp): string[] => [...readme.matchAll(re)].map((m) => m[1]!);

describe('README examples', () => {
  it('revoke no SPIFFE ID that the identity, federation and doctor examples use', () => {
    const revoked = all(/parley admin revoke (spiffe:\/\/[^\s`"]+)/g);
    expect(revoked.length).toBeGreaterThan(0);
    const federation = readme.slice(readme.indexOf('## Federation'), readme.indexOf('## Sync'));
    const used = new Set([
      ...all(/dev issue --id (spiffe:\/\/[^\s`"]+)/g),
      ...all(/own SVID: (spiffe:\/\/[^\s`"]+)/g),
      ...[...federation.matchAll(/(spiffe:\/\/[^\s`",)]+)/g)].map((m) => m[1]!),
    ]);
    expect(used.size).toBeGreaterThan(3);
    expect(revoked.filter((id) => used.has(id))).toEqual([]);
  });
});
