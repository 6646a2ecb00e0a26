#!/usr/bin/env node
'use strict';
/**
 * Our npm registry serves only the platform packages of this machine's kind, so `npm install`
 * leaves the lockfile without entries for the other platforms' optional native packages
 * (@swc/core-darwin-arm64, @unrs/resolver-binding-win32-x64-msvc, ...), and `npm ci` then
 * refuses the lockfile as out of sync. This adds those entries, marked optional with the
 * os/cpu their names state, so `npm ci` skips them on other platforms without fetching.
 * Run it after any dependency change: `node scripts/lock-optional-platforms.js`.
 */
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const packages = lock.packages;

const OS = ['darwin', 'linux', 'win32', 'freebsd', 'android', 'openharmony', 'wasm32', 'sunos', 'aix'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'wasm32'];

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => CPU.includes(p) || p === 'arm' || p.startsWith('arm'));
  const entry = {};
  if (os) entry.os = [os];
  if (cpu) entry.cpu = [cpu === 'armv7' ? 'arm' : cpu];
  if (/-(gnu|gnueabihf|msvc)$/.test(name)) entry.libc = /-gnu/.test(name) ? ['glibc'] : undefined;
  if (/-musl(eabihf)?$/.test(name)) entry.libc = ['musl'];
  if (entry.libc === undefined) delete entry.libc;
  return entry;
}

function exactVersion(spec) {
  const m = /^[\^~=]?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/.exec(spec);
  return m ? m[1] : undefined;
}

let added = 0;
for (const [key, node] of Object.entries(packages)) {
  for (const [dep, spec] of Object.entries(node.optionalDependencies || {})) {
    const nested = `${key ? `${key}/` : ''}node_modules/${dep}`;
    if (packages[nested] || packages[`node_modules/${dep}`]) continue;
    const version = exactVersion(spec);
    if (!version) continue;
    packages[`node_modules/${dep}`] = { version, ...platformOf(dep), optional: true };
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
lock.packages = sorted;
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`lock-optional-platforms: added ${added} optional platform entr${added === 1 ? 'y' : 'ies'}\n`);
