import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OfflineSpool } from '#agent/spool/index.js';
import { readEvidence, readRunSummaries } from '#common/runner-evidence.js';
import { type FakeEventBus, fakeAwsEnv, startFakeEventBus } from './fixtures/fake-event-bus.js';
import { agentBin, fixture, projectRoot, runAgent } from './fixtures/runner-harness.js';

/**
 * The real `runlane-agent` bin reporting to a scripted PutEvents endpoint on 127.0.0.1
 * (AWS_ENDPOINT_URL_EVENTBRIDGE, SigV4 with static fake credentials from the environment).
 */

let dir: string;
let bus: FakeEventBus;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reporter-cli-'));
  bus = await startFakeEventBus();
});
afterEach(async () => {
  await bus.stop();
  await rm(dir, { recursive: true, force: true });
});

const spoolDir = () => join(dir, 'spool');
const evidenceFile = () => join(dir, 'stall-events.jsonl');
const runArgs = (...command: string[]) => [
  'run',
  '--command-type',
  'build',
  '--environment',
  'dev',
  '--config',
  fixture('runner-config-reporting.json'),
  '--evidence-file',
  evidenceFile(),
  '--spool-dir',
  spoolDir(),
  '--host',
  'ci-host-1',
  '--',
  ...command,
];
const quick = () => runArgs(process.execPath, '-e', 'console.log("done")');
const stalling = () => {
  const args = runArgs(process.execPath, fixture('runner-sleeper.mjs'));
  args.splice(args.indexOf('--'), 0, '--idle-ms', '300');
  return args;
};
const env = () => fakeAwsEnv(bus);
const spoolCli = (...args: string[]) =>
  runAgent(
    ['spool', ...args, '--config', fixture('runner-config-reporting.json'), '--spool-dir', spoolDir()],
    {
      env: env(),
    },
  );

describe('runlane-agent run reporting to the bus', () => {
  it('sends the stall and the run summary the evidence files hold, signed, to runlane-<env>-telemetry; exit code unchanged', async () => {
    const run = await runAgent(stalling(), { env: env() });

    expect(run.status).toBe(124);
    const [stall] = (await readEvidence(evidenceFile())).events;
    const [summary] = (await readRunSummaries(join(dir, 'run-summaries.jsonl'))).summaries;
    expect(summary).toMatchObject({
      outcome: 'idle_timeout',
      exitCode: 124,
      stallId: stall?.id,
      host: 'ci-host-1',
    });
    expect(bus.accepted.map((entry) => [entry.detailType, entry.detail])).toEqual([
      ['RunnerStall', stall],
      ['RunnerRunSummary', summary],
    ]);
    expect(bus.accepted.every((entry) => entry.eventBusName === 'runlane-dev-telemetry')).toBe(true);
    expect(bus.requests[0]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKEAGENT\//);
    expect(await readdir(spoolDir()).catch(() => [])).not.toContainEqual(expect.stringMatching(/\.json$/));
  });

  it('RUNLANE_EVENT_BUS beats the config, --event-bus beats both; --no-report sends nothing', async () => {
    await runAgent(quick(), { env: { ...env(), RUNLANE_EVENT_BUS: 'from-env' } });
    const flag = quick();
    flag.splice(flag.indexOf('--'), 0, '--event-bus', 'from-flag');
    await runAgent(flag, { env: { ...env(), RUNLANE_EVENT_BUS: 'from-env' } });
    const off = quick();
    off.splice(off.indexOf('--'), 0, '--no-report');
    const silent = await runAgent(off, { env: env() });

    expect(bus.accepted.map((entry) => entry.eventBusName)).toEqual(['from-env', 'from-flag']);
    expect(silent.status).toBe(0);
    expect(bus.requests).toHaveLength(2);
    expect((await readRunSummaries(join(dir, 'run-summaries.jsonl'))).summaries).toHaveLength(3);
  });

  it('500s, dropped connections and partial FailedEntryCount spool the events; once the bus accepts they arrive newest first, each exactly once', async () => {
    bus.behave('fail500');
    expect((await runAgent(stalling(), { env: env() })).status).toBe(124);
    bus.behave('drop');
    const dropped = await runAgent(quick(), { env: env() });
    expect(dropped.status).toBe(0);
    expect(dropped.stderr).toMatch(
      /RunnerRunSummary \S+ not delivered to runlane-dev-telemetry \(.*\); spooled/,
    );
    bus.behave({ partial: [0] }); // the first entry of every request is refused
    expect((await runAgent(stalling(), { env: env() })).status).toBe(124);

    const produced = [
      ...(await readEvidence(evidenceFile())).events.map((event) => event.id),
      ...(await readRunSummaries(join(dir, 'run-summaries.jsonl'))).summaries.map((summary) => summary.id),
    ];
    expect(produced).toHaveLength(5); // 2 stalls, 3 run summaries
    const deliveredEarly = bus.accepted.map((entry) => entry.id);
    const waiting = (await new OfflineSpool({ directory: spoolDir(), maxBytes: 1 << 20 }).pending()).map(
      (entry) => entry.id,
    ); // newest first
    expect(deliveredEarly.length).toBeGreaterThan(0); // the partial run got some through
    expect([...deliveredEarly, ...waiting].sort()).toEqual([...produced].sort());

    bus.behave('accept');
    const flush = await spoolCli('flush', '--environment', 'dev', '--json');

    expect(flush.status).toBe(0);
    expect(JSON.parse(flush.stdout.toString())).toMatchObject({ delivered: waiting.length, remaining: 0 });
    expect(bus.accepted.map((entry) => entry.id).slice(deliveredEarly.length)).toEqual(waiting);
    expect(bus.accepted.map((entry) => entry.id).sort()).toEqual([...produced].sort());
    expect(bus.duplicatesDropped).toBe(0);
    const status = await spoolCli('status', '--json');
    expect(JSON.parse(status.stdout.toString())).toMatchObject({ files: 0, quarantined: 0 });
  });

  it('a later run replays the spool in the background while its command runs', async () => {
    bus.behave('fail500');
    await runAgent(quick(), { env: env() });
    await runAgent(quick(), { env: env() });
    bus.behave('accept');

    const run = await runAgent(
      runArgs(process.execPath, '-e', 'setTimeout(() => console.log("done"), 1500)'),
      {
        env: env(),
      },
    );

    expect(run.status).toBe(0);
    expect(bus.accepted).toHaveLength(3);
    expect(run.stderr).toMatch(/spool replay: 2 of 2 delivered/);
    expect(await readdir(spoolDir())).not.toContainEqual(expect.stringMatching(/\.json$/));
  });

  it('a silent bus costs the run at most the request timeout; the events are spooled', async () => {
    bus.behave('hang');
    const started = Date.now();
    const run = await runAgent(quick(), { env: env() });

    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/not delivered .*timeout.*; spooled/i);
    expect(Date.now() - started).toBeLessThan(15_000); // 1 s timeout per request; far under the harness's 20 s kill
    const pending = await new OfflineSpool({ directory: spoolDir(), maxBytes: 1 << 20 }).pending();
    expect(pending.map((entry) => entry.payloadType)).toEqual(['run_summary']);
  });

  it('kill -9 of the agent right after the bus acknowledged, before the delete: the next flush resends once and the receiver drops it', async () => {
    bus.behave('fail500');
    for (let i = 0; i < 3; i++) await runAgent(quick(), { env: env() });
    bus.behave('accept');

    const flush = spawn(
      process.execPath,
      [
        agentBin,
        'spool',
        'flush',
        '--environment',
        'dev',
        '--config',
        fixture('runner-config-reporting.json'),
        '--spool-dir',
        spoolDir(),
      ],
      { cwd: projectRoot, env: { ...process.env, ...env() }, stdio: 'ignore' },
    );
    bus.onAccepted = () => {
      flush.kill('SIGKILL'); // the acknowledgement is on the wire; the agent dies before deleting
      bus.onAccepted = undefined;
    };
    const signal = await new Promise((resolve) => flush.once('close', (_code, sig) => resolve(sig)));
    expect(signal).toBe('SIGKILL');
    expect(bus.accepted).toHaveLength(3);
    const left = (await new OfflineSpool({ directory: spoolDir(), maxBytes: 1 << 20 }).pending()).length;

    const again = await spoolCli('flush', '--environment', 'dev');

    expect(again.status).toBe(0);
    expect(bus.duplicatesDropped).toBe(left); // every event still spooled was resent once, and dropped
    expect(bus.accepted).toHaveLength(3);
    expect(left).toBeGreaterThan(0); // the kill landed before the deletes
    expect(left).toBeLessThanOrEqual(3);
  });

  it('spool status --json lists what waits, by payload type; usage errors exit 2', async () => {
    bus.behave('fail500');
    await runAgent(stalling(), { env: env() });

    const status = await spoolCli('status', '--json');
    expect(status.status).toBe(0);
    expect(JSON.parse(status.stdout.toString())).toMatchObject({
      files: 2,
      byPayloadType: { stall: 1, run_summary: 1 },
      quarantined: 0,
    });
    expect((await runAgent(['spool', 'flush'])).status).toBe(2);
    expect((await runAgent(['spool', 'purge'])).stderr).toMatch(/unknown command 'purge'/);
    expect((await runAgent(['spool', '--help'])).stdout.toString()).toMatch(
      /Usage: runlane-agent spool [\s\S]*\n {2}status /,
    );
  });
});

/** Whether this machine lets the test mount a tiny tmpfs (root with CAP_SYS_ADMIN). */
function canMountTmpfs(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = join(tmpdir(), `tmpfs-probe-${process.pid}`);
  try {
    execFileSync('mkdir', ['-p', probe]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    execFileSync('rm', ['-rf', probe]);
  }
}

describe.skipIf(!canMountTmpfs())(
  'runlane-agent run with the spool on a full disk (a real 64 KiB tmpfs)',
  () => {
    let mountPoint: string;
    beforeEach(async () => {
      mountPoint = join(dir, 'full-disk');
      await mkdir(mountPoint);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint]);
      await mkdir(join(mountPoint, 'spool'), { mode: 0o700 });
      // Fill it: writes stop with ENOSPC.
      await writeFile(join(mountPoint, 'filler'), Buffer.alloc(64 * 1024)).catch(() => undefined);
    });
    afterEach(() => {
      execFileSync('umount', ['-l', mountPoint]);
    });

    it('reports ENOSPC, keeps running, and exits with the command’s own code', async () => {
      bus.behave('fail500');
      const args = runArgs(process.execPath, '-e', 'process.exit(3)');
      args[args.indexOf('--spool-dir') + 1] = join(mountPoint, 'spool');

      const run = await runAgent(args, { env: env() });

      expect(run.status).toBe(3);
      expect(run.stderr).toMatch(/not spooled \(SpoolDiskFullError/);
      expect((await readRunSummaries(join(dir, 'run-summaries.jsonl'))).summaries).toMatchObject([
        { outcome: 'failure', exitCode: 3 },
      ]);
    });
  },
);
