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
      to: { pathNot: `${PURE_ALLOWED}|^src/[^/]+/domain/|^src/common/(errors|namespace-name)\\.ts$`, dependencyTypesNot: ['core'] },
    },
    {
      name: 'spiffe-through-index',
      severity: 'error',
      comment: 'the rest of the gateway uses the SPIFFE core through its public index',
      from: { path: '^src/', pathNot: '^src/spiffe/' },
      to: { path: '^src/spiffe/', pathNot: '^src/spiffe/index\\.ts$' },
    },
    {
      name: 'contexts-through-index',
      severity: 'error',
      comment: 'a context imports another only through its index.ts (its public API), or its client.ts (the part for callers outside the gateway process, without NestJS)',
      from: { path: '^src/([^/]+)/', pathNot: '^src/[^/]+/domain/|^src/common/(errors|namespace-name)\\.ts$' },
      to: { path: '^src/[^/]+/', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$', '^src/[^/]+/client\\.ts$'] },
    },
    {
      name: 'domains-through-domain-index',
      severity: 'error',
      comment: "pure code imports another context's pure code only through its domain/index.ts (and the error kernel)",
      from: { path: '^src/([^/]+)/(domain/|errors\\.ts$|namespace-name\\.ts$)' },
      to: { path: '^src/[^/]+/', pathNot: ['^src/$1/', '^src/[^/]+/domain/index\\.ts$', '^src/common/(errors|namespace-name)\\.ts$', '^src/spiffe/index\\.ts$'] },
    },
    {
      name: 'root-through-index',
      severity: 'error',
      comment: 'the composition root imports contexts only through their index.ts',
      from: { path: '^src/[^/]+\\.ts$' },
      to: { path: '^src/[^/]+/', pathNot: '^src/[^/]+/index\\.ts$' },
    },
    {
      name: 'no-folder-cycles',
      severity: 'error',
      comment: 'contexts depend on each other one way',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.(spec|int-spec)\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
