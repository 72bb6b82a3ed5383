/**
 * Import rules (DESIGN §9: cli → services ← ui; machines pure; no circles), checked in CI by
 * `npm run lint:deps`. They run on dist/import-graph/, the imports of every source file written as
 * plain JavaScript by scripts/import-graph.mjs (why: see there), so `dist/import-graph/src/ui/app.js`
 * in a message means src/ui/app.tsx.
 */
const source = '^dist/import-graph/(src|machines|templates)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle: modules that load each other. Move what both need into a third module.',
      from: { path: source },
      to: { circular: true },
    },
    {
      name: 'machines-are-pure',
      severity: 'error',
      comment: 'machines/ (runbook, machine, decision tree) imports no adapters and no steps, and touches no disk.',
      from: { path: '^dist/import-graph/machines/' },
      to: { path: '^dist/import-graph/src/(adapters|steps)/' },
    },
    {
      name: 'machines-no-node-io',
      severity: 'error',
      comment: 'machines/ touches no disk, network or process: no Node built-in modules.',
      from: { path: '^dist/import-graph/machines/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'machines-only-machines',
      severity: 'error',
      comment: 'machines/ is the pure core: from src/ it may read only the plan\'s types (src/config/schema).',
      from: { path: '^dist/import-graph/machines/' },
      to: { path: '^dist/import-graph/src/', pathNot: '^dist/import-graph/src/config/schema[.]js$' },
    },
    {
      name: 'ui-not-cli',
      severity: 'error',
      comment: 'The UI calls services (src/services), never the CLI commands: cli → services ← ui.',
      from: { path: '^dist/import-graph/src/ui/' },
      to: { path: '^dist/import-graph/src/cli/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing.',
      from: { path: source },
      // Relative imports only: npm packages are resolved by the build, not here.
      to: { couldNotResolve: true, path: '^[.]' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.map$' },
    moduleSystems: ['es6', 'cjs'],
  },
};
