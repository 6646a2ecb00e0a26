import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as ts from 'typescript';

const ROOT = resolve(__dirname, '../../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean }> };
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(name) && !/\.(spec|int-spec)\.ts$/.test(name) ? [path] : [];
  });
}

/** Package name of a bare specifier (`@scope/name/sub` -> `@scope/name`), or undefined for relative and node: ones. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Modules a file loads at run time: value imports, re-exports, require() and import(); type-only ones are erased. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && !node.importClause?.isTypeOnly) {
      const named = node.importClause?.namedBindings;
      const allTypes = !node.importClause?.name && named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      if (!allTypes) found.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0])) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The gateway's run-time code: what the image holds besides node_modules (dist is built from src and migrations). */
const RUNTIME_FILES = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'migrations')), join(ROOT, 'bin', 'parley.js')];

describe('the image installs what the gateway loads', () => {
  it('every package the run-time code imports is in dependencies (the image omits devDependencies)', () => {
    const missing = new Map<string, string>();
    for (const file of RUNTIME_FILES) {
      for (const spec of runtimeImports(file)) {
        const name = packageOf(spec);
        if (name !== undefined && !(name in pkg.dependencies)) missing.set(name, relative(ROOT, file));
      }
    }
    expect(Object.fromEntries(missing)).toEqual({});
    expect(RUNTIME_FILES.length).toBeGreaterThan(100);
  });

  it('the scan sees value imports and skips type-only ones', () => {
    const sample = join(ROOT, 'src', 'config', 'load.ts');
    const imports = runtimeImports(sample);
    expect(imports).toEqual(expect.arrayContaining(['node:fs', 'yaml', './schema']));
    expect(imports).not.toContain('zod'); // `import type { z } from 'zod'`
  });

  it('no production dependency is resolved as dev-only in the lockfile', () => {
    const devOnly = Object.keys(pkg.dependencies).filter((name) => lock.packages[`node_modules/${name}`]?.dev === true || lock.packages[`node_modules/${name}`] === undefined);
    expect(devOnly).toEqual([]);
  });

  it('the Dockerfile installs production dependencies only, from the lockfile, and copies what the run time reads', () => {
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev --omit=optional --ignore-scripts\b/m);
    expect(runtime).toMatch(/^COPY --from=deps \/app\/node_modules node_modules$/m);
    expect(runtime).toMatch(/^COPY --from=build \/src\/dist dist$/m);
    // proto/ (common/proto-files.ts) and package.json (common/version.ts) are read at run time.
    for (const path of ['package.json', 'bin', 'proto']) expect(runtime).toMatch(new RegExp(`^COPY ${path}( |\\S* )`, 'm'));
    expect(runtime).toMatch(/^USER 10001:10001$/m);
    expect(runtime).toMatch(/^VOLUME \["\/var\/lib\/parley"\]$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "\/app\/bin\/parley.js"\]$/m);
    for (const label of ['title', 'description', 'licenses', 'version', 'revision', 'created', 'base.name']) {
      expect(dockerfile).toContain(`org.opencontainers.image.${label}=`);
    }
  });

  it('.dockerignore lets in every path the Dockerfile copies from the context, and those paths exist', () => {
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    const allowed = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    expect(copied.length).toBeGreaterThan(5);
    for (const path of copied) {
      expect({ path, allowed: allowed.includes(path), exists: existsSync(join(ROOT, path)) }).toEqual({ path, allowed: true, exists: true });
    }
  });

  it('the build stage builds with the same script as npm run build', () => {
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    // What `npm run build` compiles must be in the build stage.
    const build = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build;
    for (const dir of /swc (.+?) -d/.exec(build)?.[1].split(' ') ?? ['?']) expect(dockerfile).toMatch(new RegExp(`^COPY ${dir} ${dir}$`, 'm'));
  });
});

describe('the systemd unit', () => {
  it('systemd-analyze verify accepts it without a warning', () => {
    let stderr = '';
    try {
      execFileSync('systemd-analyze', ['verify', join(ROOT, 'deploy', 'systemd', 'parley.service')], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      stderr = String((err as { stderr?: Buffer }).stderr ?? err);
    }
    expect(stderr).toBe('');
  });
});
