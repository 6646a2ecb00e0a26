/**
 * The CLI's start-up loads only what its commands parse with: the gateway's contexts (NestJS,
 * TypeORM, the AWS SDK, the admin API) are loaded by the commands that run them (serve, migrate,
 * dev, config print), not by every `parley push` or `parley --help`.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const MAIN = resolve(__dirname, '../../../dist/src/cli/main.js');
const HEAVY = ['@nestjs/core', '@nestjs/common', 'typeorm', 'pg', '@aws-sdk/client-s3', 'class-validator', '@nestjs/swagger'];

describe('parley CLI start-up', () => {
  it('builds the whole program without loading NestJS, TypeORM, pg or the S3 SDK', () => {
    const script = `require('reflect-metadata'); const p = require(${JSON.stringify(MAIN)}).buildProgram();
      const loaded = new Set(Object.keys(require.cache).map((k) => (/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(k) || [])[1]).filter(Boolean));
      process.stdout.write(JSON.stringify({ commands: p.commands.length, loaded: [...loaded] }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: resolve(__dirname, '../../..') })) as { commands: number; loaded: string[] };
    expect(out.commands).toBeGreaterThan(10);
    expect(out.loaded).toContain('commander');
    expect(out.loaded.filter((m) => HEAVY.includes(m))).toEqual([]);
  });
});
