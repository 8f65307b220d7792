#!/usr/bin/env node
/**
 * `npm run build:agent`: the agent as ONE file, dist/agent/runlane-agent.mjs, that runs with plain
 * `node` (>= 24) and no node_modules: every dependency bundled (esbuild), the TypeScript compiled.
 * The commands' modules (agent/cli/commands/*) stay lazy inside the bundle (esbuild keeps an
 * `await import()` of a bundled module as a deferred initialiser), so `run` never evaluates the
 * AWS SDK it does not use. Prints the bundle's size; `--analyze` also prints what is in it
 * (dist/agent/runlane-agent.mjs.meta.json has it always).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeMetafile, build } from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
const BUNDLE = join(root, 'dist/agent/runlane-agent.mjs');

/**
 * esbuild hoists every `import … from 'node:…'` of the bundle to its top, so one ES module file
 * would load http2, tls, worker_threads, undici… at start even for `--version`. Each built-in
 * becomes a small CommonJS module instead whose exports are getters that require the real module
 * on first use: `import { randomUUID } from 'node:crypto'` costs nothing until a UUID is made
 * (loading node:crypto initialises OpenSSL: ~12 MB of RSS an idle `runlane-agent run` does not
 * need). The export names are those of the Node that builds (the one the package ships).
 */
const lazyNodeBuiltins = {
  name: 'lazy-node-builtins',
  setup(build) {
    build.onResolve({ filter: /^[a-z_:/0-9]+$/ }, (args) =>
      (args.kind === 'import-statement' || args.kind === 'dynamic-import') && isBuiltin(args.path)
        ? { path: args.path, namespace: 'lazy-node-builtin' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-node-builtin' }, async (args) => {
      const names = Object.keys(await import(args.path)).filter((name) => name !== 'default');
      return {
        contents: [
          'let loaded;',
          `const load = () => (loaded ??= require(${JSON.stringify(args.path)}));`,
          `for (const name of ${JSON.stringify(names)})`,
          '  Object.defineProperty(module.exports, name, { enumerable: true, get: () => load()[name] });',
        ].join('\n'),
        loader: 'js',
      };
    });
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
      "import { createRequire as __runlaneCreateRequire } from 'node:module';",
      'const require = __runlaneCreateRequire(import.meta.url);',
    ].join('\n'),
  },
});
const bytes = result.metafile.outputs[relative(root, outfile)]?.bytes ?? Number.NaN;
console.log(`${relative(process.cwd(), outfile)}: ${(bytes / 1024 / 1024).toFixed(2)} MiB`);
// What is in the bundle (package-deb.mjs lists its packages in the copyright file).
await writeFile(`${outfile}.meta.json`, JSON.stringify(result.metafile));
if (process.argv.includes('--analyze')) console.log(await analyzeMetafile(result.metafile));
