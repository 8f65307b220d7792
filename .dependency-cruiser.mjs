/**
 * The import rules of the layout (DESIGN §6, STYLE principle 15), checked by `npm run lint:deps`
 * (part of `npm run lint`): contracts ← core ← adapters ← wiring/handlers; cli/ and agent/ share
 * only common/; lib/ never reaches into adapters; bench/ and soak/ never into test/; no cycles anywhere.
 * @type {import('dependency-cruiser').IConfiguration}
 */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle of imports is a design bug: break it with a module both sides import.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'contracts-import-nothing-of-ours',
      severity: 'error',
      comment: 'contracts/ holds the schemas and names every part shares; it imports only itself.',
      from: { path: '^contracts/' },
      to: { path: '^(functions|lib|cli|agent|common|local|bench|test|bin)/' },
    },
    {
      name: 'core-imports-only-contracts',
      severity: 'error',
      comment:
        'functions/core is the domain: it imports contracts/ and itself, never an adapter or another part.',
      from: { path: '^functions/core/' },
      to: { path: '^(functions/(adapters|wiring|handlers)|lib|cli|agent|common|local|bench|test|bin)/' },
    },
    {
      name: 'core-no-aws-sdk',
      severity: 'error',
      comment: 'The domain core stays free of the AWS SDK: it depends on the ports adapters implement.',
      from: { path: '^functions/core/' },
      to: { path: 'node_modules/@aws-sdk/' },
    },
    {
      name: 'adapters-not-wiring-or-handlers',
      severity: 'error',
      comment:
        'Adapters implement the core ports; wiring and handlers compose them, not the other way round.',
      from: { path: '^functions/adapters/' },
      to: { path: '^(functions/(wiring|handlers)|lib|cli|agent|local|bench|test|bin)/' },
    },
    {
      name: 'functions-not-outside',
      severity: 'error',
      comment:
        'Lambda code is bundled on its own: it may use contracts/ but nothing of the CLI, agent, CDK or local stack.',
      from: { path: '^functions/' },
      to: { path: '^(lib|cli|agent|common|local|bench|test|bin)/' },
    },
    {
      name: 'lib-not-adapters',
      severity: 'error',
      comment:
        'Constructs read definitions (contracts, core constants); they never import an adapter or wiring.',
      from: { path: '^lib/' },
      to: { path: '^(functions/(adapters|wiring)|cli|agent|local|bench|test)/' },
    },
    {
      name: 'cli-not-agent',
      severity: 'error',
      comment: 'The runlane CLI never reaches into the agent: code both need lives in common/.',
      from: { path: '^cli/' },
      to: { path: '^(agent|test|bench)/' },
    },
    {
      name: 'agent-only-contracts-and-common',
      severity: 'error',
      comment:
        'The on-host agent ships on its own: it may use contracts/ and common/, nothing of the control plane, CLI or CDK.',
      from: { path: '^agent/' },
      to: { path: '^(functions|lib|cli|local|bench|test)/' },
    },
    {
      name: 'common-only-contracts',
      severity: 'error',
      comment: 'common/ is shared by cli/ and agent/: it may use contracts/ and itself only.',
      from: { path: '^common/' },
      to: { path: '^(functions|lib|cli|agent|local|bench|test|bin)/' },
    },
    {
      name: 'bench-not-test',
      severity: 'error',
      comment: 'The benchmark measures the product, not the test fixtures.',
      from: { path: '^bench/' },
      to: { path: '^test/' },
    },
    {
      name: 'soak-not-test',
      severity: 'error',
      comment: 'The chaos soak drives the product as a user does, not through the test fixtures.',
      from: { path: '^soak/' },
      to: { path: '^test/' },
    },
    {
      name: 'nothing-imports-test-or-bench',
      severity: 'error',
      comment: 'Product code never depends on tests, the benchmark or the soak.',
      from: { pathNot: '^(test|bench|soak)/' },
      to: { path: '^(test|bench|soak)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve is a broken import.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|cdk\\.out|\\.runlane|coverage)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mjs', '.js', '.json', '.d.ts'],
    },
  },
};
