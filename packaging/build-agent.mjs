#!/usr/bin/env node
/**
 * `npm run build:agent`: the agent as ONE file, dist/agent/runlane-agent.mjs, that runs with plain
 * `node` (>= 24) and no node_modules: every dependency bundled (esbuild), the TypeScript compiled.
 * The commands' modules (agent/cli/commands/*) stay lazy inside the bundle (esbuild keeps an
 * `await import()` of a bundled module as a deferred initialiser), so `run` never evaluates the
 * AWS SDK it does not use. Prints the bundle's size; `--analyze` also prints what is in it.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { isBuiltin } from 'node:module';
import { fileURLToPath } from 'node:url';
import { analyzeMetafile, build } from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
const BUNDLE = join(root, 'dist/agent/runlane-agent.mjs');

/**
 * esbuild hoists every `import … from 'node:…'` of the bundle to its top, so one ES module file
 * would load http2, tls, worker_threads, undici… at start even for `--version`. Each built-in
 * becomes a tiny CommonJS module instead (`module.exports = require('node:http2')`), evaluated
 * when the module that imports it is: the lazily imported commands keep their built-ins lazy too.
 */
const lazyNodeBuiltins = {
  name: 'lazy-node-builtins',
  setup(build) {
    build.onResolve({ filter: /^[a-z_:/0-9]+$/ }, (args) =>
      (args.kind === 'import-statement' || args.kind === 'dynamic-import') && isBuiltin(args.path)
        ? { path: args.path, namespace: 'lazy-node-builtin' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-node-builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * prom-client's index loads its Pushgateway (http, https, zlib), cluster aggregation and default
 * process metrics (perf_hooks, v8) at start; the agent uses none of them (its own registry, see
 * agent/runner/metrics.ts), so the bundle gets a stub that says so if it is ever called.
 */
const promClientUnused = {
  name: 'prom-client-unused',
  setup(build) {
    build.onResolve({ filter: /^\.\/lib\/(pushgateway|cluster|defaultMetrics)$/ }, (args) =>
      /[\\/]prom-client[\\/]index\.js$/.test(args.importer)
        ? { path: args.path, namespace: 'prom-client-unused' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'prom-client-unused' }, (args) => ({
      contents: `module.exports = function unused() { throw new Error('prom-client ${args.path} is not bundled in runlane-agent'); };`,
      loader: 'js',
    }));
  },
};

const outfile = process.env.RUNLANE_AGENT_BUNDLE ?? BUNDLE;
await mkdir(dirname(outfile), { recursive: true });
const result = await build({
  stdin: {
    contents: "import { runAgentProcess } from '#agent/cli/process.js';\nawait runAgentProcess();\n",
    resolveDir: root,
    sourcefile: 'runlane-agent.ts',
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  // Prefer the packages' ES module builds (the AWS SDK's dist-es tree-shakes better than dist-cjs).
  mainFields: ['module', 'main'],
  minify: true,
  // Class and function names stay readable in a Panic line's stack and in crash reports.
  keepNames: true,
  legalComments: 'none',
  outfile,
  metafile: true,
  plugins: [lazyNodeBuiltins, promClientUnused],
  logLevel: 'warning',
  banner: {
    // The CommonJS dependencies (commander, prom-client, parts of the SDK) call require() for
    // Node's built-in modules; an ES module has none of its own.
    js: [
      '#!/usr/bin/env node',
      "import { createRequire as __runlaneCreateRequire } from 'node:module';",
      'const require = __runlaneCreateRequire(import.meta.url);',
    ].join('\n'),
  },
});
await chmod(outfile, 0o755);
const bytes = result.metafile.outputs[relative(root, outfile)]?.bytes ?? Number.NaN;
console.log(`${relative(process.cwd(), outfile)}: ${(bytes / 1024 / 1024).toFixed(2)} MiB`);
if (process.argv.includes('--analyze')) {
  console.log(await analyzeMetafile(result.metafile));
  await writeFile(`${outfile}.meta.json`, JSON.stringify(result.metafile));
}
