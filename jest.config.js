// Two tiers (STYLE.md): unit tests beside the code, integration tests against real
// PostgreSQL and real TLS under test/integration. Both transform TypeScript with SWC.
const fs = require('node:fs');
const swcrc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));
delete swcrc.$schema;
const transform = { '^.+\\.(t|j|mj)s$': ['@swc/jest', { ...swcrc, swcrc: false }] };
// ESM-only dependencies are transformed to CommonJS for jest's module system.
const transformIgnorePatterns = ['/node_modules/(?!(jose|multiformats)/)'];
// test/interop/.cache holds the interop tier's Go module cache and venv: never crawled.
const modulePathIgnorePatterns = ['<rootDir>/test/interop/.cache/'];
const common = { transform, transformIgnorePatterns, modulePathIgnorePatterns, testEnvironment: 'node', moduleFileExtensions: ['ts', 'js', 'mjs', 'json'] };

module.exports = {
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/src', '<rootDir>/test/support'], testMatch: ['**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.int-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
