import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWorkerConfig, type WorkerConfig } from '#agent/worker/config.js';
import { workerCapabilities } from '#agent/worker/heartbeat.js';
import { CappedCapture, checkArguments } from '#agent/worker/scripts.js';
import { fieldPaths } from '../support/config-field-paths.js';
import { projectRoot } from './fixtures/runner-harness.js';
import { spawnAgent, tempDir, workerEnv, writeConfig } from './fixtures/worker-harness.js';

const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/runlane-prod-worker-tasks-lab';
const API = 'https://abc123.execute-api.us-east-1.amazonaws.com';
const SHA = 'a'.repeat(64);

const minimal = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  environment: 'prod',
  site: 'lab',
  taskQueueUrl: QUEUE,
  apiUrl: API,
  ...extra,
});

describe('worker config', () => {
  it('resolves defaults: workerId from the host name, api transport, 30 s heartbeats, 20 s polls, 64 KiB output', () => {
    const config = parseWorkerConfig(minimal(), 'test', {}, 'host-1');
    expect(config).toMatchObject({
      workerId: 'host-1',
      site: 'lab',
      transport: 'api',
      heartbeatIntervalMs: 30_000,
      pollWaitSeconds: 20,
      spoolDirectory: '.runlane-agent/worker-spool',
      scripts: {},
      apiUrl: API,
    });
    expect(config.reporting.eventBus).toBe('runlane-{environment}-telemetry');
    expect(workerCapabilities(config)).toEqual({ kinds: ['collect_facts'], scripts: [], plugins: [] });
  });

  it('takes workerId and site from WORKER_DEFAULT_ID / WORKER_SITE_NAME, the config winning over them', () => {
    const env = { WORKER_DEFAULT_ID: 'env-worker', WORKER_SITE_NAME: 'lab' };
    const fromEnv = parseWorkerConfig(minimal({ site: undefined }), 'test', env, 'host-1');
    expect([fromEnv.workerId, fromEnv.site]).toEqual(['env-worker', 'lab']);
    const fromConfig = parseWorkerConfig(minimal({ workerId: 'cfg-worker' }), 'test', env, 'host-1');
    expect(fromConfig.workerId).toBe('cfg-worker');
  });

  it('lets RUNLANE_WORKER_QUEUE_URL and RUNLANE_API_URL override the config', () => {
    const config = parseWorkerConfig(
      minimal(),
      'test',
      {
        RUNLANE_WORKER_QUEUE_URL: 'http://127.0.0.1:9/000000000000/runlane-prod-worker-tasks-lab',
        RUNLANE_API_URL: 'http://127.0.0.1:8/',
      },
      'h',
    );
    expect(config.taskQueueUrl).toBe('http://127.0.0.1:9/000000000000/runlane-prod-worker-tasks-lab');
    expect(config.apiUrl).toBe('http://127.0.0.1:8');
  });

  it('names the field path of every problem in one error', () => {
    const paths = fieldPaths(() =>
      parseWorkerConfig(
        minimal({
          site: undefined,
          transport: 'carrier-pigeon',
          pollWaitSeconds: 21,
          scripts: {
            'rotate-logs': { path: 'relative/rotate.sh', sha256: SHA, args: { maxCount: 2 } },
            'bad name!': { path: '/bin/true', sha256: SHA },
            broken: { path: '/bin/true', sha256: SHA, args: { maxCount: 1, pattern: '([a-z' } },
            huge: { path: '/bin/true', sha256: SHA, maxOutputBytes: 10_000_000 },
          },
          reporting: { maxAttempts: 0 },
        }),
        'test',
        {},
        'h',
      ),
    );
    expect(paths).toEqual(
      expect.arrayContaining([
        'transport',
        'pollWaitSeconds',
        'scripts.rotate-logs.path',
        'scripts.rotate-logs.args.pattern',
        'scripts.bad name!',
        'scripts.broken.args.pattern',
        'scripts.huge.maxOutputBytes',
        'reporting.maxAttempts',
      ]),
    );
  });

  it('requires site (config or WORKER_SITE_NAME), taskQueueUrl and apiUrl, each named', () => {
    expect(fieldPaths(() => parseWorkerConfig({ environment: 'prod' }, 'test', {}, 'h'))).toEqual([
      'site',
      'taskQueueUrl',
      'apiUrl',
    ]);
    expect(() => parseWorkerConfig(minimal({ site: undefined }), 'worker.json', {}, 'h')).toThrow(
      /field_path="site": is required: set site in the config or WORKER_SITE_NAME/,
    );
    expect(() =>
      parseWorkerConfig(minimal({ site: undefined }), 'test', { WORKER_SITE_NAME: 'Not A Slug' }, 'h'),
    ).toThrow(/field_path="site".*WORKER_SITE_NAME/);
    expect(fieldPaths(() => parseWorkerConfig(minimal(), 'test', {}, 'bad host name'))).toEqual(['workerId']);
  });

  it('pins every script to a SHA-256: an entry without one (or with a malformed one) is refused, named', () => {
    const paths = fieldPaths(() =>
      parseWorkerConfig(
        minimal({
          scripts: {
            unpinned: { path: '/bin/true' },
            short: { path: '/bin/true', sha256: 'abc' },
            ok: { path: '/bin/true', sha256: SHA.toUpperCase() },
          },
        }),
        'test',
        {},
        'h',
      ),
    );
    expect(paths).toEqual(['scripts.unpinned.sha256', 'scripts.short.sha256']);
    const config = parseWorkerConfig(
      minimal({ scripts: { ok: { path: '/bin/true', sha256: SHA.toUpperCase() } } }),
      'test',
      {},
      'h',
    );
    expect(config.scripts.ok).toMatchObject({ sha256: SHA, inheritAwsCredentials: false });
    expect(config.inheritEnv).toEqual(['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'LOGNAME']);
  });

  it('plain http: only to this host (127.0.0.1, ::1, localhost), else a config error naming the field', () => {
    for (const host of ['127.0.0.1:8', '[::1]:8', 'localhost:8']) {
      expect(parseWorkerConfig(minimal({ apiUrl: `http://${host}` }), 'test', {}, 'h').apiUrl).toBe(
        `http://${host}`,
      );
    }
    expect(
      fieldPaths(() =>
        parseWorkerConfig(
          minimal({
            apiUrl: 'http://api.example.com',
            taskQueueUrl: 'http://sqs.example.com/1/runlane-prod-worker-tasks-lab',
          }),
          'test',
          {},
          'h',
        ),
      ),
    ).toEqual(['taskQueueUrl', 'apiUrl']);
    // From the environment too, naming the field and the variable.
    expect(() =>
      parseWorkerConfig(minimal(), 'test', { RUNLANE_API_URL: 'http://10.0.0.5:3000' }, 'h'),
    ).toThrow(
      /field_path="apiUrl": must be https: \(plain http: only to 127\.0\.0\.1, ::1 or localhost\) \(RUNLANE_API_URL/,
    );
  });

  it('an SDK endpoint override (AWS_ENDPOINT_URL_SQS …) follows the same rule: plain http: only to loopback', () => {
    expect(
      parseWorkerConfig(minimal(), 'test', { AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:4566' }, 'h').site,
    ).toBe('lab');
    expect(
      fieldPaths(() =>
        parseWorkerConfig(
          minimal(),
          'test',
          { AWS_ENDPOINT_URL_SQS: 'http://sqs.internal:4566', AWS_ENDPOINT_URL: 'https://ok.example.com' },
          'h',
        ),
      ),
    ).toEqual(['AWS_ENDPOINT_URL_SQS']);
  });

  it("refuses a queue that is not this site's lane", () => {
    expect(() =>
      parseWorkerConfig(minimal({ taskQueueUrl: QUEUE.replace('-lab', '-other') }), 'test', {}, 'h'),
    ).toThrow(/field_path="taskQueueUrl": must be the queue of environment prod and site lab/);
  });

  it('enables only built-in plugins and checks their options', () => {
    const paths = fieldPaths(() =>
      parseWorkerConfig(
        minimal({
          plugins: ['echo', 'rm_rf', 'echo', 'disk_usage'],
          pluginOptions: { disk_usage: { path: 'var' }, shell: {} },
        }),
        'test',
        {},
        'h',
      ),
    );
    expect(paths).toEqual(['plugins.1', 'plugins.2', 'pluginOptions.disk_usage.path', 'pluginOptions.shell']);
    const config = parseWorkerConfig(minimal({ plugins: ['disk_usage'] }), 'test', {}, 'h');
    expect(config.enabledPlugins.get('disk_usage')?.options).toEqual({ path: '/' });
  });

  it('config/worker.example.json is valid; its capabilities list kinds, scripts and plugins', async () => {
    const raw = JSON.parse(await readFile(`${projectRoot}config/worker.example.json`, 'utf8'));
    const config: WorkerConfig = parseWorkerConfig(raw, 'config/worker.example.json', {}, 'h');
    expect(workerCapabilities(config)).toEqual({
      kinds: ['collect_facts', 'execute_script', 'execute_action'],
      scripts: ['restart-app', 'rotate-logs'],
      plugins: ['disk_usage', 'echo'],
    });
  });
});

describe('script allowlist checks', () => {
  const spec = parseWorkerConfig(
    minimal({ scripts: { s: { path: '/bin/true', sha256: SHA, args: { maxCount: 2, pattern: '[a-z]+' } } } }),
    'test',
    {},
    'h',
  ).scripts.s;

  it('allows arguments within maxCount that fully match the pattern; names the first bad index', () => {
    if (spec === undefined) throw new Error('no spec');
    expect(checkArguments(spec, ['abc', 'de'])).toBeUndefined();
    expect(checkArguments(spec, ['a', 'b', 'c'])).toBe('script takes at most 2 argument(s), got 3');
    expect(checkArguments(spec, ['abc', 'abc;rm'])).toBe(
      'args.1 does not match the allowlist pattern [a-z]+',
    );
    // Anchored: a partial match is not enough.
    expect(checkArguments(spec, ['ABCabc'])).toMatch(/^args\.0 /);
  });

  it('keeps the first maxOutputBytes of output and says it truncated', async () => {
    const capture = new CappedCapture(5);
    capture.write(Buffer.from('abc'));
    capture.write(Buffer.from('defgh'));
    await new Promise<void>((resolve) => capture.end(resolve));
    expect([capture.text(), capture.truncated]).toEqual(['abcde', true]);
  });
});

describe('runlane-agent worker (the real bin)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(async () => {
    await dir.cleanup();
  });

  it('--help prints the usage and exits 0; runlane-agent --help lists the worker', async () => {
    const help = await spawnAgent(['worker', '--help'], { env: workerEnv('http://127.0.0.1:9') }).done;
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: runlane-agent worker [options]');
    expect(help.stdout).toContain('<payload_type>-<timestamp>-<task_id>.json');
    const top = await spawnAgent(['--help'], { env: workerEnv('http://127.0.0.1:9') }).done;
    expect(top.stdout).toMatch(/^ {2}worker \[options\]/m);
  });

  it('exits 2 naming the field path of a bad config, and on bad usage', async () => {
    const file = await writeConfig(dir.path, {
      environment: 'prod',
      taskQueueUrl: QUEUE,
      apiUrl: API,
      heartbeatIntervalMs: 10,
    });
    const bad = await spawnAgent(['worker', '--config', file], { env: workerEnv('http://127.0.0.1:9') }).done;
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('field_path="heartbeatIntervalMs"');
    const usage = await spawnAgent(['worker', '--bogus'], { env: workerEnv('http://127.0.0.1:9') }).done;
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("unknown option '--bogus'");
  });
});
