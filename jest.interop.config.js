// The interop tier (`npm run test:interop`, not part of `npm test`): real third-party peers
// (SPIRE, go-spiffe, grpcio, grpcurl, openssl) built by test/interop/setup.sh, against the
// built gateway (dist/). One file at a time: the peers are heavy on a 2-core machine.
const fs = require('node:fs');
const swcrc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));
delete swcrc.$schema;

module.exports = {
  displayName: 'interop',
  transform: { '^.+\\.(t|j|mj)s$': ['@swc/jest', { ...swcrc, swcrc: false }] },
  transformIgnorePatterns: ['/node_modules/(?!(jose|multiformats)/)'],
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  roots: ['<rootDir>/test/interop'],
  testMatch: ['**/*.interop-spec.ts'],
  // The peers' module cache and venv live under test/interop/.cache: never crawl them.
  modulePathIgnorePatterns: ['<rootDir>/test/interop/.cache/'],
  testTimeout: 300_000,
  maxWorkers: 1,
};
