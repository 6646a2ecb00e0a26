#!/usr/bin/env node
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const entry = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('parley: not built yet; run `npm run build` (npm ci and npm start build it for you)\n');
  process.exit(1);
}
require('reflect-metadata');
require(entry)
  .buildProgram()
  .parseAsync(process.argv)
  .catch((err) => {
    process.stderr.write(`parley: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
