/**
 * Which documents a referrer pushed before its subject adds to what its subject digest holds. Pure.
 */

export type SubjectlessKind = 'manifest' | 'blob';

export interface KeptKey {
  readonly kind: SubjectlessKind;
  readonly digest: string;
}

/**
 * The rows to insert for a manifest and its blobs, given the rows the subject digest holds:
 * none when the manifest is held already (a repeated push), else each document not held yet,
 * once (a blob named twice, or held for another referrer of the subject, is not added again).
 */
export function subjectlessAdditions<T extends KeptKey>(held: readonly KeptKey[], wanted: readonly T[]): T[] {
  const have = new Set(held.map((h) => `${h.kind} ${h.digest}`));
  const manifest = wanted.find((w) => w.kind === 'manifest');
  if (manifest !== undefined && have.has(`manifest ${manifest.digest}`)) return [];
  const out: T[] = [];
  for (const w of wanted) {
    const key = `${w.kind} ${w.digest}`;
    if (have.has(key)) continue;
    have.add(key);
    out.push(w);
  }
  return out;
}
