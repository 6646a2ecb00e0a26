/**
 * The context graph of src/ (each folder under src/ is a context; src/*.ts is the
 * composition root): every import between contexts, collapsed to an edge, must point one
 * way. Fails listing the contexts of any cycle; `--print` writes the graph.
 * Run by `npm run lint` after dependency-cruiser's file-level rules.
 */
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

const bin = join(__dirname, '..', 'node_modules', '.bin', 'depcruise');
const out = execFileSync(bin, ['src', '--config', '.dependency-cruiser.js', '--output-type', 'json'], { cwd: join(__dirname, '..'), maxBuffer: 64 << 20 });
const result = JSON.parse(out.toString('utf8'));

const contextOf = (source) => {
  const m = /^src\/([^/]+)\//.exec(source);
  return m ? m[1] : source.startsWith('src/') ? '(root)' : undefined;
};
const edges = new Map();
for (const mod of result.modules) {
  const from = contextOf(mod.source);
  if (from === undefined) continue;
  for (const dep of mod.dependencies) {
    const to = contextOf(dep.resolved);
    if (to === undefined || to === from) continue;
    if (!edges.has(from)) edges.set(from, new Set());
    edges.get(from).add(to);
  }
}

// Tarjan's strongly connected components: any with more than one context is a cycle.
let index = 0;
const stack = [];
const state = new Map();
const cycles = [];
const visit = (v) => {
  state.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of edges.get(v) ?? []) {
    if (!state.has(w)) {
      visit(w);
      state.get(v).low = Math.min(state.get(v).low, state.get(w).low);
    } else if (state.get(w).onStack) state.get(v).low = Math.min(state.get(v).low, state.get(w).index);
  }
  if (state.get(v).low === state.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      state.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) cycles.push(component.sort());
  }
};
for (const v of [...edges.keys()].sort()) if (!state.has(v)) visit(v);

if (process.argv.includes('--print')) {
  for (const [from, to] of [...edges].sort()) console.log(`${from} -> ${[...to].sort().join(', ')}`);
}
if (cycles.length > 0) {
  for (const c of cycles) console.error(`context cycle: ${c.join(' <-> ')} (contexts must depend on each other one way)`);
  process.exit(1);
}
console.log(`context graph: ${edges.size} contexts, no cycles`);
