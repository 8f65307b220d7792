import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PidFile, processStartTime } from '#agent/supervisor/pid-file.js';
import { fixture } from './fixtures/runner-harness.js';
import { child, cleanupHarnesses, harness, isAlive, record } from './fixtures/supervisor-harness.js';

/** Folder of a test that runs the supervisor in a process of its own. */
let dir: string | undefined;
/** Processes a test left on purpose (an orphan): SIGKILLed afterwards should the test fail midway. */
const leftovers: { pid: number; startTime: string }[] = [];
afterEach(async () => {
  for (const { pid, startTime } of leftovers.splice(0)) {
    if ((await processStartTime(pid)) !== startTime) continue; // gone (or the pid was reused)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  await cleanupHarnesses();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('Supervisor: shutdown', () => {
  it('logs Draining → Terminating → Completed and leaves no process behind (children and grandchildren)', async () => {
    const h = await harness([
      child('tree', ['tree'], { killGraceMs: 400 }),
      child('relay', ['sleep']),
      child('flaky', ['exit', '1'], { backoff: { initialMs: 5_000, maxMs: 5_000, multiplier: 1 } }),
    ]);
    await h.supervisor.start();
    await expect.poll(() => h.output.get('tree'), { timeout: 5_000 }).toMatch(/"escaped"/);
    const { inGroup, escaped } = JSON.parse(h.output.get('tree') ?? '{}') as {
      inGroup: number;
      escaped: number;
    };
    await expect.poll(() => record(h, 'flaky')?.state).toBe('backoff');
    const pids = [record(h, 'tree')?.pid, record(h, 'relay')?.pid, inGroup, escaped].map(Number);
    for (const pid of pids) expect(isAlive(pid)).toBe(true);

    const shutdown = h.supervisor.shutdown();
    expect(h.supervisor.health().status).toBe('stopping');
    await expect(h.supervisor.execute({ command: 'restart-child', name: 'relay' })).resolves.toEqual({
      result: 'Rejected',
      reason: 'the supervisor is stopping',
    });
    // The loop keeps turning while the tree ignores SIGTERM.
    const before = h.supervisor.health().control_loop_iterations;
    await expect.poll(() => h.supervisor.health().control_loop_iterations).toBeGreaterThanOrEqual(before + 3);
    expect(isAlive(pids[0] ?? 0)).toBe(true);
    await shutdown;

    for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    const phases = h.log.filter((l) => l.startsWith('ShutdownPhase::'));
    expect(phases).toEqual([
      'ShutdownPhase::Draining',
      'ShutdownPhase::Terminating',
      'ShutdownPhase::Completed',
    ]);
    expect(h.log.at(-1)).toBe('ShutdownPhase::Completed');
    // Exits are reaped between Terminating and Completed; the backing-off child is not restarted.
    const terminating = h.log.indexOf('ShutdownPhase::Terminating');
    expect(h.log.slice(terminating)).toContainEqual(
      expect.stringMatching(
        /^TaskExit::Killed child=tree pid=\d+ signal=SIGKILL reason="operator: shutdown"$/,
      ),
    );
    expect(h.log.slice(terminating).some((l) => l.startsWith('restarted child=flaky'))).toBe(false);
    expect(h.reporter.healthEvents().at(-1)).toMatchObject({ status: 'stopping', children: { running: 0 } });
    await expect(readFile(h.config.pidFile)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

/** Runs the supervisor in a process of its own; stdout lines collected. */
function host(
  configPath: string,
  mode?: string,
): { proc: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const proc = spawn(
    process.execPath,
    [fixture('supervisor-host.mjs'), configPath, ...(mode ? [mode] : [])],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let partial = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  proc.stderr?.on('data', (chunk: Buffer) => lines.push(`stderr: ${chunk.toString().trim()}`));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, lines, exited };
}

describe('Supervisor: pid file and orphans', () => {
  it('a supervisor killed with SIGKILL leaves a child; the next one reports it (orphan_found), terminates it, then starts one fresh', async () => {
    dir = await mkdtemp(join(tmpdir(), 'supervisor-orphan-'));
    const pidFile = join(dir, 'supervisor.pid.json');
    const configPath = join(dir, 'supervisor.json');
    const spec = child('relay', ['stubborn'], { killGraceMs: 300 });
    await writeFile(
      configPath,
      JSON.stringify({
        environment: 'test',
        host: 'test-host',
        dashboard: { path: join(dir, 'supervisor.sock') },
        pidFile,
        reporting: { enabled: false },
        children: [spec],
      }),
    );
    const first = host(configPath);
    const recorded = new PidFile(pidFile);
    await expect
      .poll(async () => (await recorded.read().catch(() => undefined))?.children.length ?? 0, {
        timeout: 15_000,
      })
      .toBe(1);
    const contents = await recorded.read();
    const orphanPid = contents?.children[0]?.pid ?? 0;
    leftovers.push({ pid: orphanPid, startTime: contents?.children[0]?.startTime ?? '' });
    expect(contents).toMatchObject({
      version: 1,
      supervisor: { pid: first.proc.pid },
      children: [{ name: 'relay', pid: orphanPid, startTime: expect.stringMatching(/^\d+$/) }],
    });
    first.proc.kill('SIGKILL');
    await first.exited;
    expect(isAlive(orphanPid)).toBe(true); // own process group: it outlives its supervisor

    const h = await harness([spec], { pidFile });
    await h.supervisor.start();
    expect(isAlive(orphanPid)).toBe(false);
    expect(h.reporter.childEvents('relay')[0]).toMatchObject({ event: 'orphan_found', pid: orphanPid });
    const found = h.log.findIndex((l) => l.startsWith(`orphan_found child=relay pid=${orphanPid} `));
    const terminated = h.log.findIndex((l) =>
      l.startsWith(`orphan_terminated child=relay pid=${orphanPid} `),
    );
    const started = h.log.findIndex((l) => l.startsWith('started child=relay'));
    expect(found).toBeGreaterThanOrEqual(0);
    expect(terminated).toBeGreaterThan(found);
    expect(started).toBeGreaterThan(terminated);
    const freshPid = record(h, 'relay')?.pid ?? 0;
    expect(freshPid).not.toBe(orphanPid);
    expect(isAlive(freshPid)).toBe(true);
    await expect.poll(async () => (await recorded.read())?.children.map((c) => c.pid)).toEqual([freshPid]);
  }, 30_000);

  it('a pid file whose supervisor is alive refuses a second supervisor (field_path="pidFile")', async () => {
    const h = await harness([child('relay', ['sleep'])]);
    // The vitest worker's parent stands in for a live supervisor.
    const ppid = process.ppid;
    await new PidFile(h.config.pidFile).write({
      version: 1,
      supervisor: { pid: ppid, startTime: (await processStartTime(ppid)) ?? 'x' },
      children: [],
    });
    await expect(h.supervisor.start()).rejects.toThrow(/field_path="pidFile"/);
    expect(record(h, 'relay')?.pid).toBeNull();
  });

  it('a recorded pid reused by another process (different start time) is left alone', async () => {
    const h = await harness([child('relay', ['sleep'])]);
    await new PidFile(h.config.pidFile).write({
      version: 1,
      supervisor: { pid: 999_999, startTime: '1' },
      children: [{ name: 'relay', pid: process.pid, startTime: '1' }],
    });
    await h.supervisor.start();
    expect(h.log.some((l) => l.startsWith('orphan_found'))).toBe(false);
    expect(h.reporter.childEvents().map((e) => e.event)).not.toContain('orphan_found');
  });
});

describe('Supervisor: panic', () => {
  it('an uncaught error logs one Panic line, signals the children and exits 70', async () => {
    dir = await mkdtemp(join(tmpdir(), 'supervisor-panic-'));
    const configPath = join(dir, 'supervisor.json');
    await writeFile(
      configPath,
      JSON.stringify({
        environment: 'test',
        dashboard: { path: join(dir, 'supervisor.sock') },
        pidFile: join(dir, 'supervisor.pid.json'),
        reporting: { enabled: false },
        children: [child('relay', ['sleep'])],
      }),
    );
    const run = host(configPath, 'panic');
    expect(await run.exited).toBe(70);
    const panic = run.lines.filter((l) => l.startsWith('Panic:'));
    expect(panic).toHaveLength(1);
    expect(panic[0]).toMatch(/^Panic: Error: control loop invariant broken at /);
    expect(run.lines.at(-1)).toBe(panic[0]);
    const relay = (await new PidFile(join(dir, 'supervisor.pid.json')).read())?.children[0]?.pid ?? 0;
    expect(relay).toBeGreaterThan(0);
    await expect.poll(() => isAlive(relay)).toBe(false);
  }, 30_000);
});
