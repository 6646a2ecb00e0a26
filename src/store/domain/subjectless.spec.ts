import { subjectlessAdditions, type KeptKey } from './subjectless';

const m = (digest: string): KeptKey => ({ kind: 'manifest', digest });
const b = (digest: string): KeptKey => ({ kind: 'blob', digest });

describe('subjectlessAdditions', () => {
  it.each<[string, KeptKey[], KeptKey[], KeptKey[]]>([
    ['a first referrer: the manifest and its blobs', [], [m('M'), b('C'), b('L')], [m('M'), b('C'), b('L')]],
    ['the same manifest again: nothing (its blobs are not added either)', [m('M'), b('C')], [m('M'), b('C'), b('X')], []],
    ['a blob held for another referrer of the subject: not again', [m('M1'), b('C')], [m('M2'), b('C'), b('L')], [m('M2'), b('L')]],
    ['a blob named twice: once', [], [m('M'), b('L'), b('L')], [m('M'), b('L')]],
    ['a manifest digest equal to a held blob digest: kinds are apart', [b('D')], [m('D')], [m('D')]],
  ])('%s', (_why, held, wanted, expected) => {
    expect(subjectlessAdditions(held, wanted)).toEqual(expected);
  });
});
