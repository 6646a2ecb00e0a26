/**
 * What `parley push` says when the gateway had the bytes already. Records are
 * content-addressed and immutable: the record keeps the namespace, media type and
 * annotations of its first push, and a later push's differ only in what was not applied.
 */

export interface PushMetadata {
  readonly namespace: string;
  /** As the gateway stores it: lowercase, `application/octet-stream` when none was given. */
  readonly mediaType: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface AlreadyStoredNote {
  /** One line for stderr. */
  readonly line: string;
  /** Something this push asked for (namespace, media type, annotations) is not on the record. */
  readonly notApplied: boolean;
}

/** The media type a push header asks for, as the gateway stores it. */
export function requestedMediaType(mediaType: string | undefined): string {
  return mediaType === undefined || mediaType === '' ? 'application/octet-stream' : mediaType.toLowerCase();
}

function sameAnnotations(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.prototype.hasOwnProperty.call(b, k) && b[k] === a[k]);
}

function annotationCount(a: Readonly<Record<string, string>>): string {
  const n = Object.keys(a).length;
  return n === 0 ? 'no annotations' : n === 1 ? '1 annotation' : `${n} annotations`;
}

function joinAnd(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * "already stored (namespace team-a, 2 annotations)" when this push asked for nothing else;
 * "already stored (namespace team-a, 2 annotations kept; this push's namespace team-b and
 * annotations were not applied)" when it did. `kept` is undefined when the gateway does not
 * show the record to this caller (a namespace it may not see).
 */
export function alreadyStoredNote(requested: PushMetadata, kept: PushMetadata | undefined): AlreadyStoredNote {
  if (kept === undefined) {
    return { line: "already stored, in a namespace this identity may not see; this push's namespace and annotations were not applied", notApplied: true };
  }
  const notApplied: string[] = [];
  if (requested.namespace !== kept.namespace) notApplied.push(`namespace ${requested.namespace}`);
  if (requested.mediaType !== kept.mediaType) notApplied.push(`media type ${requested.mediaType}`);
  // Asking for no annotations drops nothing: the record's own stay, as the line says.
  if (Object.keys(requested.annotations).length > 0 && !sameAnnotations(requested.annotations, kept.annotations)) notApplied.push('annotations');
  const record = [`namespace ${kept.namespace}`, ...(requested.mediaType === kept.mediaType ? [] : [`media type ${kept.mediaType}`]), annotationCount(kept.annotations)].join(', ');
  if (notApplied.length === 0) return { line: `already stored (${record})`, notApplied: false };
  const verb = notApplied.length === 1 && notApplied[0] !== 'annotations' ? 'was' : 'were';
  return { line: `already stored (${record} kept; this push's ${joinAnd(notApplied)} ${verb} not applied)`, notApplied: true };
}
