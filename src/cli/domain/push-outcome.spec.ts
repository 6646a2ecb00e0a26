import { alreadyStoredNote, requestedMediaType, type PushMetadata } from './push-outcome';

const OCTET = 'application/octet-stream';
const kept: PushMetadata = { namespace: 'team-a', mediaType: OCTET, annotations: { stage: 'prod', owner: 'ml' } };

describe('alreadyStoredNote', () => {
  it.each<[string, PushMetadata, string, boolean]>([
    ['the same namespace and annotations', { namespace: 'team-a', mediaType: OCTET, annotations: { owner: 'ml', stage: 'prod' } }, 'already stored (namespace team-a, 2 annotations)', false],
    ['no annotations asked for', { namespace: 'team-a', mediaType: OCTET, annotations: {} }, 'already stored (namespace team-a, 2 annotations)', false],
    [
      'another namespace and other annotations',
      { namespace: 'team-b', mediaType: OCTET, annotations: { stage: 'dev' } },
      "already stored (namespace team-a, 2 annotations kept; this push's namespace team-b and annotations were not applied)",
      true,
    ],
    ['another namespace only', { namespace: 'team-b', mediaType: OCTET, annotations: {} }, "already stored (namespace team-a, 2 annotations kept; this push's namespace team-b was not applied)", true],
    ['other annotations only', { namespace: 'team-a', mediaType: OCTET, annotations: { stage: 'prod' } }, "already stored (namespace team-a, 2 annotations kept; this push's annotations were not applied)", true],
    [
      'another media type',
      { namespace: 'team-a', mediaType: 'application/json', annotations: {} },
      "already stored (namespace team-a, media type application/octet-stream, 2 annotations kept; this push's media type application/json was not applied)",
      true,
    ],
    [
      'everything different',
      { namespace: 'team-b', mediaType: 'text/plain', annotations: { a: '1' } },
      "already stored (namespace team-a, media type application/octet-stream, 2 annotations kept; this push's namespace team-b, media type text/plain and annotations were not applied)",
      true,
    ],
  ])('%s', (_, requested, line, notApplied) => {
    expect(alreadyStoredNote(requested, kept)).toEqual({ line, notApplied });
  });

  it('counts one annotation and none in words', () => {
    expect(alreadyStoredNote({ namespace: 'x', mediaType: OCTET, annotations: {} }, { namespace: 'x', mediaType: OCTET, annotations: { a: '1' } }).line).toBe('already stored (namespace x, 1 annotation)');
    expect(alreadyStoredNote({ namespace: 'y', mediaType: OCTET, annotations: {} }, { namespace: 'x', mediaType: OCTET, annotations: {} }).line).toBe(
      "already stored (namespace x, no annotations kept; this push's namespace y was not applied)",
    );
  });

  it('a record the caller may not see: says that nothing of this push was applied', () => {
    expect(alreadyStoredNote(kept, undefined)).toEqual({ line: "already stored, in a namespace this identity may not see; this push's namespace and annotations were not applied", notApplied: true });
  });

  it('compares media types as the gateway stores them', () => {
    expect(requestedMediaType(undefined)).toBe(OCTET);
    expect(requestedMediaType('')).toBe(OCTET);
    expect(requestedMediaType('Application/JSON')).toBe('application/json');
  });
});
