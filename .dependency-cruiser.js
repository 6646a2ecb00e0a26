/**
 * Dependency rules of STYLE.md §8, checked in CI (`npm run lint`):
 * - src/spiffe and every <context>/domain folder stay pure: node built-ins, each other, and the
 *   X.509/JOSE libraries the SPIFFE core needs; never NestJS, gRPC, database or validation code.
 * - no import cycles.
 * - contexts import each other only through their index.ts (once they have one).
 */
const PURE_ALLOWED = '^(src/spiffe/|node_modules/(@peculiar/[^/]+|jose|pkijs|asn1js)/)';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'import cycles make initialisation order fragile',
      from: {},
      to: { circular: true },
    },
    {
      name: 'spiffe-is-pure',
      severity: 'error',
      comment: 'src/spiffe is a pure library: no framework, gRPC or database imports',
      from: { path: '^src/spiffe/' },
      to: { pathNot: PURE_ALLOWED, dependencyTypesNot: ['core'] },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: '*/domain/** holds pure logic: only node built-ins, the SPIFFE core and other domain code',
      from: { path: '^src/[^/]+/domain/' },
      to: { pathNot: `${PURE_ALLOWED}|^src/[^/]+/domain/|^src/common/errors\\.ts$`, dependencyTypesNot: ['core'] },
    },
    {
      name: 'spiffe-through-index',
      severity: 'error',
      comment: 'the rest of the gateway uses the SPIFFE core through its public index',
      from: { path: '^src/', pathNot: '^src/spiffe/' },
      to: { path: '^src/spiffe/', pathNot: '^src/spiffe/index\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.(spec|int-spec)\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
