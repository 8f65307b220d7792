import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeEventBus, fakeAwsEnv, startFakeEventBus } from './fixtures/fake-event-bus.js';
import { fixture, freePort, isAlive, runAgent } from './fixtures/runner-harness.js';
import {
  ctlClient,
  pgrepExact,
  type SuperviseProcess,
  startSupervise,
} from './fixtures/supervise-process.js';

/**
 * Seed 001 P1-001 (supervisor process crash) and P1-003 (dashboard IPC disconnected) followed
 * step by step against the real `runlane-agent supervise` bin, its control socket, real
 * children and a PutEvents endpoint on 127.0.0.1 (P1-002 and P1-004 are in
 * `supervisor.test.ts`, against the handle). Each `step N` comment is the runbook's row.
 */

let dir: string;
const running: SuperviseProcess[] = [];
let bus: FakeEventBus | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'supervisor-runbook-'));
});
afterEach(async () => {
  for (const supervise of running.splice(0)) supervise.child.kill('SIGKILL');
  await bus?.stop();
  bus = undefined;
  await rm(dir, { recursive: true, force: true });
});

const socketPath = () => join(dir, 'supervisor.sock');
const ctl = (...args: string[]) => ctlClient(socketPath())(...args);
const health = async () => (await ctl('health').catch(() => ({ body: null }))).body?.health;
const records = async (): Promise<{ name: string; pid: number; restart_count: number; state: string }[]> =>
  (await ctl('state')).body.current_state.child_runtime_records;
const supervise = (config: string, options: Parameters<typeof startSupervise>[1]) => {
  const started = startSupervise(config, options);
  running.push(started);
  return started;
};

async function writeConfig(overrides: Record<string, unknown>, children: unknown[]): Promise<string> {
  const file = join(dir, 'supervisor.json');
  await writeFile(
    file,
    JSON.stringify({
      environment: 'dev',
      dashboard: { path: socketPath() },
      pidFile: join(dir, 'supervisor.pid.json'),
      crashReportDirectory: dir,
      ...overrides,
      children,
    }),
  );
  return file;
}

const childOf = (name: string, mode: string, extra: Record<string, unknown> = {}) => ({
  name,
  command: process.execPath,
  args: [fixture('supervisor-child.mjs'), mode],
  killGraceMs: 500,
  ...extra,
});

describe('seed 001 P1-001: Supervisor Process Crash (real bin)', () => {
  it('pgrep, Panic at the end of the log, a crash report, restart → ready and orphans terminated, dashboard_link connected', async () => {
    bus = await startFakeEventBus();
    const config = await writeConfig(
      {
        host: 'p1-001-host',
        healthIntervalMs: 300,
        dashboardLinkWindowMs: 5_000,
        reporting: { enabled: true, spoolDirectory: join(dir, 'spool'), requestTimeoutMs: 1_000 },
      },
      // `stubborn` ignores SIGTERM, so it outlives the crashed supervisor: the orphan of step 4.
      [childOf('relay', 'sleep'), childOf('stubborn', 'stubborn')],
    );
    const env = fakeAwsEnv(bus);
    const faultInjection = pathToFileURL(fixture('supervisor-fault.mjs')).href;
    const first = supervise(config, { env, nodeOptions: ['--import', faultInjection] });
    await expect.poll(async () => (await health())?.status, { timeout: 20_000, interval: 200 }).toBe('ready');
    const before = await records();
    const oldPid = (name: string) => before.find((r) => r.name === name)?.pid as number;

    // Step 1: pgrep -x supervisor → exit 0 while it runs.
    expect(pgrepExact('supervisor', process.pid)).toEqual({ status: 0, pids: [first.pid] });

    first.child.kill('SIGUSR2'); // the injected bug: an error nobody catches
    expect(await first.exited).toBe(70);
    // Step 1: … exit 1 once it is gone.
    expect(pgrepExact('supervisor', process.pid).status).toBe(1);

    // Step 2: the log ends with Panic (unexpected), naming the error and the crash report.
    const last = first.lines().at(-1) ?? '';
    expect(last).toMatch(/^Panic: Error: injected fault: control loop invariant broken at .* crash_report=/);
    expect(first.stderr()).not.toContain('ShutdownPhase::Completed');

    // Step 3: the crash report (Node's diagnostic report: the backtrace) is in crashReportDirectory.
    const reportFile = last.slice(last.indexOf('crash_report=') + 'crash_report='.length);
    expect(reportFile.startsWith(`${dir}/runlane-supervisor-panic-`)).toBe(true);
    const report = JSON.parse(await readFile(reportFile, 'utf8'));
    expect(report.header.processId).toBe(first.pid);
    expect(report.javascriptStack.message).toContain('injected fault');
    expect(report).not.toHaveProperty('environmentVariables'); // the fake AWS secret stays out of /tmp
    expect(isAlive(oldPid('relay'))).toBe(false); // SIGTERMed by the panic handler
    expect(isAlive(oldPid('stubborn'))).toBe(true); // the orphan

    // Step 4: restart the supervisor → health.status == "ready" within 30 s; the orphan is
    // found through the pid file and terminated, not run twice.
    const restartedAt = Date.now();
    const second = supervise(config, { env });
    await expect.poll(async () => (await health())?.status, { timeout: 30_000, interval: 200 }).toBe('ready');
    expect(Date.now() - restartedAt).toBeLessThan(30_000);
    expect(second.stderr()).toContain(`orphan_found child=stubborn pid=${oldPid('stubborn')}`);
    expect(second.stderr()).toMatch(
      new RegExp(`orphan_terminated child=stubborn pid=${oldPid('stubborn')} `),
    );
    expect(isAlive(oldPid('stubborn'))).toBe(false);
    const after = await records();
    expect(after.map((r) => [r.name, r.state])).toEqual([
      ['relay', 'running'],
      ['stubborn', 'running'],
    ]);
    for (const record of after) expect(record.pid).not.toBe(oldPid(record.name));
    expect(pgrepExact('supervisor', process.pid)).toEqual({ status: 0, pids: [second.pid] });

    // Step 5: children reconnected, dashboard_link == "connected": the bus took the new
    // supervisor's health and its orphan report.
    await expect.poll(async () => (await health())?.dashboard_link, { timeout: 10_000 }).toBe('connected');
    expect(
      bus.accepted.some(
        (e) =>
          e.detailType === 'SupervisorHealth' &&
          e.detail.host === 'p1-001-host' &&
          e.detail.status === 'ready',
      ),
    ).toBe(true);
    expect(
      bus.accepted.some(
        (e) =>
          e.detailType === 'SupervisorChild' &&
          e.detail.event === 'orphan_found' &&
          e.detail.child === 'stubborn',
      ),
    ).toBe(true);

    // A planned stop ends the log with ShutdownPhase::Completed and leaves nothing behind.
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.lines().at(-1)).toBe('ShutdownPhase::Completed');
    expect(pgrepExact('supervisor', process.pid).status).toBe(1);
    for (const record of after) expect(isAlive(record.pid)).toBe(false);
  }, 90_000);
});

describe('seed 001 P1-003: Dashboard IPC Disconnected (real bin)', () => {
  it('socket 0600, pgrep relay, kill -TERM relay → auto-restart → connected within 10 s; restart the supervisor; dashboard.path contention', async () => {
    // The supervisor reports through its `relay` child (a PutEvents endpoint it supervises).
    const port = await freePort();
    const received = join(dir, 'relay-received.jsonl');
    const config = await writeConfig(
      {
        host: 'p1-003-host',
        healthIntervalMs: 250,
        dashboardLinkWindowMs: 1_500,
        reporting: {
          enabled: true,
          spoolDirectory: join(dir, 'spool'),
          requestTimeoutMs: 400,
          maxAttempts: 1,
          replayIntervalMs: 250,
        },
      },
      [
        {
          name: 'relay',
          command: process.execPath,
          args: [fixture('relay-bus.mjs'), String(port), received],
          killGraceMs: 500,
        },
        childOf('worker', 'sleep'),
      ],
    );
    const env = fakeAwsEnv({ endpoint: `http://127.0.0.1:${port}` });
    let current = supervise(config, { env });
    await expect
      .poll(async () => (await health())?.dashboard_link, { timeout: 20_000, interval: 200 })
      .toBe('connected');
    const relayPid = (await records()).find((r) => r.name === 'relay')?.pid as number;

    // Symptom: the relay is wedged (takes connections, never answers) → no delivery within the
    // window → health.dashboard_link == "disconnected".
    process.kill(relayPid, 'SIGUSR1');
    await expect
      .poll(async () => (await health())?.dashboard_link, { timeout: 10_000, interval: 100 })
      .toBe('disconnected');

    // Step 1: the socket file is present, a socket, owner-only.
    const socket = await lstat(socketPath());
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    expect(socket.uid).toBe(process.getuid?.());

    // Step 2: pgrep -x relay → the supervisor's relay is running.
    expect(pgrepExact('relay', current.pid)).toEqual({ status: 0, pids: [relayPid] });

    // Step 3: kill -TERM <relay_pid> → the supervisor restarts it → connected within 10 s.
    const killedAt = Date.now();
    process.kill(relayPid, 'SIGTERM');
    await expect
      .poll(
        async () =>
          (await health())?.dashboard_link === 'connected' && (await records())[0]?.pid !== relayPid,
        {
          timeout: 10_000,
          interval: 100,
        },
      )
      .toBe(true);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    const [relay] = await records();
    expect(relay).toMatchObject({ name: 'relay', state: 'running', restart_count: 1 });
    expect(pgrepExact('relay', current.pid)).toEqual({ status: 0, pids: [relay?.pid] });
    expect(current.stderr()).toMatch(
      new RegExp(`TaskExit::Killed child=relay pid=${relayPid} signal=SIGTERM`),
    );
    // What could not be sent while the relay was down came out of the spool afterwards.
    const relayExit = async () =>
      (await readFile(received, 'utf8'))
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line))
        .some(
          (e) =>
            e.detailType === 'SupervisorChild' &&
            e.detail.child === 'relay' &&
            e.detail.event === 'exited' &&
            e.detail.pid === relayPid,
        );
    await expect.poll(relayExit, { timeout: 10_000 }).toBe(true);

    // Escalation: a second supervisor on the same socket path is refused with field_path="dashboard.path".
    const contender = await runAgent(['supervise', '--config', config], { env });
    expect(contender.status).toBe(2);
    expect(contender.stderr).toContain('field_path="dashboard.path"');
    expect((await health())?.dashboard_link).toBe('connected'); // the first one is untouched

    // Step 4: restarting the supervisor (the IPC's lifecycle is its own) → connected again.
    current.child.kill('SIGTERM');
    expect(await current.exited).toBe(0);
    expect(isAlive(relay?.pid as number)).toBe(false);
    current = supervise(config, { env });
    await expect
      .poll(async () => (await health())?.dashboard_link, { timeout: 20_000, interval: 200 })
      .toBe('connected');
    current.child.kill('SIGTERM');
    expect(await current.exited).toBe(0);
  }, 90_000);
});
