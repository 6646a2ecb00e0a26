import { OciError } from './oci-errors';
import { isTagSyntax, namespaceTags, parseManifestRef, requireTagFor } from './tags';

const CID = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof OciError ? err.code : 'not an OciError';
  }
}

describe('tag syntax', () => {
  it.each([
    ['v1', true],
    ['latest', true],
    ['_x', true],
    ['1.0.0-rc.1_b', true],
    ['A'.repeat(128), true],
    ['A'.repeat(129), false],
    ['', false],
    ['.v1', false],
    ['-v1', false],
    ['v1/x', false],
    ['v 1', false],
    ['v1+b', false],
    ['vé', false],
  ])('%j is a tag: %s', (tag, ok) => {
    expect(isTagSyntax(tag)).toBe(ok);
  });
});

describe('manifest references', () => {
  it('a reference with ":" is a digest (checked by the caller), one of the tag syntax a tag', () => {
    expect(parseManifestRef('sha256:abc', 'put')).toEqual({ kind: 'digest', digest: 'sha256:abc' });
    expect(parseManifestRef('v1', 'get')).toEqual({ kind: 'tag', tag: 'v1' });
    expect(parseManifestRef(CID, 'put')).toEqual({ kind: 'tag', tag: CID });
  });

  it('anything else is refused: MANIFEST_INVALID on a push, MANIFEST_UNKNOWN on a read', () => {
    expect(codeOf(() => parseManifestRef('.hidden', 'put'))).toBe('MANIFEST_INVALID');
    expect(codeOf(() => parseManifestRef('x'.repeat(129), 'put'))).toBe('MANIFEST_INVALID');
    expect(codeOf(() => parseManifestRef('.hidden', 'get'))).toBe('MANIFEST_UNKNOWN');
  });
});

describe('which manifest may carry a tag', () => {
  it('a named tag any; a CID tag only the record whose CID it is', () => {
    expect(codeOf(() => requireTagFor('v1', false, CID))).toBeUndefined();
    expect(codeOf(() => requireTagFor('v1', false, undefined))).toBeUndefined();
    expect(codeOf(() => requireTagFor(CID, true, CID))).toBeUndefined();
    expect(codeOf(() => requireTagFor(CID, true, 'bafkreiother'))).toBe('MANIFEST_INVALID');
    expect(codeOf(() => requireTagFor(CID, true, undefined))).toBe('MANIFEST_INVALID');
  });
});

describe('the tags of a namespace', () => {
  it('are the CID tags and the named tags, each once', () => {
    expect(namespaceTags([CID, 'bafkreia'], ['v1', CID])).toEqual([CID, 'bafkreia', 'v1']);
  });
});
