import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostFileError } from '#agent/errors.js';
import { EvidenceWriter } from '#agent/runner/evidence.js';
import { checkConfigFile } from '#agent/runner/host-files.js';
import { OfflineSpool } from '#agent/spool/index.js';
import { parseSupervisorConfig } from '#agent/supervisor/config.js';
import { crashReportDirectoryOf, writeCrashReport } from '#agent/supervisor/panic.js';
import { startSupervisor } from '#agent/supervisor/start.js';
import { buildResultEnvelopes } from '#agent/worker/envelopes.js';
import type { WorkerLog } from '#agent/worker/log.js';
import { REFUSALS_FILE, REFUSED_FOLDER, ResultOutbox } from '#agent/worker/result-outbox.js';
import type { WorkerTransport } from '#agent/worker/transport.js';
import { fixture, runAgent } from './fixtures/runner-harness.js';
import { taskMessage } from './fixtures/worker-harness.js';

/**
 * Issue 18, host files: private folders (0700, the agent user's own) or the agent refuses to
 * start naming the path; writes never follow a symbolic link; config files others could have
 * written are refused; crash reports 0600 in the state folder.
 */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'host-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const isRoot = process.getuid?.() === 0;
const NOBODY = 65_534;

const runArgs = (evidenceFile: string, config = fixture('runner-config.json'), marker = join(dir, 'ran')) => [
  'run',
  '--command-type',
  'build',
  '--environment',
  'dev',
  '--config',
  config,
  '--evidence-file',
  evidenceFile,
  '--',
  process.execPath,
  '-e',
  `require('node:fs').writeFileSync(${JSON.stringify(marker)}, '')`,
];

describe('runlane-agent run: private evidence folders, safe config', () => {
  it('creates the evidence folder 0700 and the files 0600', async () => {
    const run = await runAgent(runArgs(join(dir, 'evidence', 'runner', 'stall-events.jsonl')));
    expect(run.status).toBe(0);
    expect((await stat(join(dir, 'evidence', 'runner'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'evidence', 'runner', 'run-summaries.jsonl'))).mode & 0o777).toBe(0o600);
  });

  it('an evidence folder with group/other access: refuses to start naming it, exit 2, nothing run', async () => {
    const folder = join(dir, 'evidence');
    await mkdir(folder, { mode: 0o755 });
    await chmod(folder, 0o755);
    const run = await runAgent(runArgs(join(folder, 'stall-events.jsonl')));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      `runlane-agent: refusing to start: ${folder} has mode 0755: group and others must have no access (chmod 700 ${folder})`,
    );
    await expect(stat(join(dir, 'ran'))).rejects.toThrow();
  });

  it('a group-writable runner config is refused, naming the file; exit 2, nothing run', async () => {
    const config = join(dir, 'runner.json');
    await writeFile(config, await readFile(fixture('runner-config.json')));
    await chmod(config, 0o664);
    const run = await runAgent(runArgs(join(dir, 'ev', 'stall-events.jsonl'), config));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`invalid runner configuration (${config})`);
    expect(run.stderr).toContain('has mode 0664: a config file must not be writable by group or others');
    await expect(stat(join(dir, 'ran'))).rejects.toThrow();
  });
});

describe('config and allowlist files', () => {
  it('refused when writable by group or others; fine when 0644 or 0600', async () => {
    const file = join(dir, 'worker.json');
    await writeFile(file, '{}');
    for (const mode of [0o644, 0o600, 0o640]) {
      await chmod(file, mode);
      await expect(checkConfigFile(file)).resolves.toBeUndefined();
    }
    for (const mode of [0o664, 0o646, 0o666]) {
      await chmod(file, mode);
      await expect(checkConfigFile(file)).rejects.toBeInstanceOf(HostFileError);
    }
  });

  it.skipIf(!isRoot)('refused when owned by another user (not root, not the agent’s user)', async () => {
    const file = join(dir, 'worker.json');
    await writeFile(file, '{}', { mode: 0o644 });
    await chown(file, NOBODY, NOBODY);
    await expect(checkConfigFile(file)).rejects.toThrow(
      `refusing to start: ${file} is owned by uid ${NOBODY}: a config file must be owned by root or the agent's user`,
    );
  });

  it('the worker refuses a group-writable allowlist: exit 2 naming the file, before anything runs', async () => {
    const { spawnAgent, workerEnv } = await import('./fixtures/worker-harness.js');
    const file = join(dir, 'worker.json');
    await writeFile(
      file,
      JSON.stringify({
        environment: 'prod',
        site: 'lab',
        taskQueueUrl: 'http://127.0.0.1:9/000000000000/runlane-prod-worker-tasks-lab',
        apiUrl: 'http://127.0.0.1:9',
        spoolDirectory: join(dir, 'spool'),
      }),
    );
    await chmod(file, 0o666);
    const run = await spawnAgent(['worker', '--config', file, '--once'], {
      env: workerEnv('http://127.0.0.1:9'),
    }).done;
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`invalid worker configuration (${file})`);
    expect(run.stderr).toContain('field_path="(file)": has mode 0666');
  });

  it('the worker refuses a spool folder others can enter: exit 2 naming it', async () => {
    const { spawnAgent, workerEnv } = await import('./fixtures/worker-harness.js');
    const spool = join(dir, 'spool');
    await mkdir(spool);
    await chmod(spool, 0o755);
    const file = join(dir, 'worker.json');
    await writeFile(
      file,
      JSON.stringify({
        environment: 'prod',
        site: 'lab',
        taskQueueUrl: 'http://127.0.0.1:9/000000000000/runlane-prod-worker-tasks-lab',
        apiUrl: 'http://127.0.0.1:9',
        spoolDirectory: spool,
      }),
      { mode: 0o600 },
    );
    const run = await spawnAgent(['worker', '--config', file, '--once'], {
      env: workerEnv('http://127.0.0.1:9'),
    }).done;
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`runlane-agent: refusing to start: ${spool} has mode 0755`);
  });
});

describe('appends and writes never follow a symbolic link', () => {
  it('refused/refusals.jsonl planted as a link: the victim file gets no line', async () => {
    const spoolDirectory = join(dir, 'spool');
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'untouched\n');
    await mkdir(join(spoolDirectory, REFUSED_FOLDER), { recursive: true, mode: 0o700 });
    await symlink(victim, join(spoolDirectory, REFUSED_FOLDER, REFUSALS_FILE));
    const events: string[] = [];
    const log: WorkerLog = { event: (name) => events.push(name) };
    const refusing: WorkerTransport = {
      description: 'refusing',
      sendResult: async () => ({ outcome: 'refused', status: 422, errorCode: 'unknown_task', message: 'no' }),
      sendHeartbeat: async () => ({ outcome: 'acknowledged', duplicate: false }),
    };
    const spool = new OfflineSpool({ directory: spoolDirectory, maxBytes: 1_000_000 });
    const outbox = new ResultOutbox({ spool, transport: refusing, log, replayIntervalMs: 60_000 });
    const task = taskMessage('prod', 'lab', { kind: 'collect_facts' });
    const envelopes = buildResultEnvelopes({ environment: 'prod', workerId: 'w1', site: 'lab' }, task, {
      result: { status: 'succeeded', durationMs: 1 },
    });

    const handOver = await outbox.submit(envelopes);

    expect(await readFile(victim, 'utf8')).toBe('untouched\n');
    expect(handOver).toMatchObject({ refused: 0, lost: envelopes.length });
    expect(events).toContain('result_lost');
    await spool.close();
  });

  it('an evidence file planted as a link is not written through', async () => {
    const folder = join(dir, 'evidence');
    await mkdir(folder, { mode: 0o700 });
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'untouched\n');
    await symlink(victim, join(folder, 'stall-events.jsonl'));
    const writer = new EvidenceWriter(join(folder, 'stall-events.jsonl'));
    await expect(
      writer.append({
        id: '00000000-0000-4000-8000-000000000001',
        ts: '2026-01-02T03:04:05.000Z',
        host: 'h1',
        environment: 'prod',
        commandType: 'build',
        rootCause: 'network',
        idleMs: 12_000,
        hardMs: 45_000,
        elapsedMs: 12_010,
        timeout: 'idle',
        pid: 4242,
        evidence: [],
      }),
    ).rejects.toThrow(/cannot append to evidence file/);
    expect(await readFile(victim, 'utf8')).toBe('untouched\n');
  });
});

describe('supervisor: state and crash reports', () => {
  const config = (overrides: Record<string, unknown> = {}) =>
    parseSupervisorConfig(
      {
        environment: 'test',
        dashboard: { path: join(dir, 'supervisor.sock') },
        pidFile: join(dir, 'state', 'supervisor.pid.json'),
        reporting: { enabled: false },
        children: [],
        ...overrides,
      },
      'test',
    );

  it('crash reports go to the state folder (not /tmp), 0600', async () => {
    const folder = crashReportDirectoryOf(config(), dir);
    expect(folder).toBe(join(dir, 'state'));
    await mkdir(folder, { mode: 0o700 });
    const path = writeCrashReport(folder, new Error('boom'));
    if (path === undefined) throw new Error('no report written');
    expect(path.startsWith(folder)).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('refuses to start when the state folder has group/other access, naming it', async () => {
    await mkdir(join(dir, 'state'));
    await chmod(join(dir, 'state'), 0o750);
    await expect(startSupervisor(config(), { log: () => {}, reporter: null })).rejects.toThrow(
      `refusing to start: ${join(dir, 'state')} has mode 0750`,
    );
  });
});

describe('runlane-agent spool status beside a running writer', () => {
  it("never deletes the writer's in-progress temp files", async () => {
    const spool = join(dir, 'spool');
    await mkdir(spool, { mode: 0o700 });
    const temp = join(spool, '.tmp-1234-stall-1700000005000-inflight.json');
    await writeFile(temp, '{"hmac":"ab');
    const run = await runAgent([
      'spool',
      'status',
      '--json',
      '--config',
      fixture('runner-config-reporting.json'),
      '--spool-dir',
      spool,
    ]);
    expect(run.status).toBe(0);
    await expect(stat(temp)).resolves.toBeDefined();
  });
});

describe('runlane-agent spool flush on a spool folder others can enter', () => {
  it('refuses, naming it: exit 2, nothing sent', async () => {
    const spool = join(dir, 'spool');
    await mkdir(spool);
    await chmod(spool, 0o777);
    const run = await runAgent([
      'spool',
      'flush',
      '--environment',
      'dev',
      '--config',
      fixture('runner-config-reporting.json'),
      '--spool-dir',
      spool,
    ]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`runlane-agent: refusing to start: ${spool} has mode 0777`);
  });
});
