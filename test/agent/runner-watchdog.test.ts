import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MetricsServer, RunnerMetrics } from '#agent/runner/metrics.js';
import { readEvidence } from '#common/runner-evidence.js';
import { STALL_ROOT_CAUSES } from '#contracts/agent-events.js';
import {
  eventCounts,
  type FixtureRun,
  fixture,
  isAlive,
  QUIET_HOST,
  runFixture,
  stallCounts,
} from './fixtures/runner-harness.js';

/** Idle/hard deadlines of the stall scenarios; hard stays far away unless a test is about it. */
const IDLE = { idleMs: 300, hardMs: 5_000, killGraceMs: 200 };

let dir: string;
let evidenceFile: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'runner-watchdog-'));
  evidenceFile = join(dir, 'evidence/runner/stall-events.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The run stalled once, the evidence file holds exactly that event, and /metrics counts the same. */
async function expectOneStall(run: FixtureRun) {
  const { events, invalidLines, tornTail } = await readEvidence(run.evidenceFile);
  expect({ invalidLines, tornTail }).toEqual({ invalidLines: 0, tornTail: false });
  expect(events).toHaveLength(1);
  const [event] = events;
  expect(event).toEqual(run.report.event);
  expect(stallCounts(await run.metrics.text())).toEqual(eventCounts(events, STALL_ROOT_CAUSES));
  expect(isAlive(run.report.watch.pid)).toBe(false);
  if (event === undefined) throw new Error('no event');
  return event;
}

describe('runlane-agent run: one real child per root cause', () => {
  let silentServer: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // Accepts connections and never answers.
    silentServer = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silentServer.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silentServer.close(resolve));
  });

  it('io_wait: a real ENOSPC (write to /dev/full) then silence', async () => {
    const run = await runFixture('runner-enospc.mjs', [], { timeouts: IDLE, evidenceFile });
    expect(run.report.exitCode).toBe(124);
    const event = await expectOneStall(run);
    expect(event).toMatchObject({
      rootCause: 'io_wait',
      timeout: 'idle',
      idleMs: 300,
      hardMs: 5_000,
      environment: 'test',
      host: 'test-host',
      commandType: 'runner-enospc.mjs',
      pid: run.report.watch.pid,
      evidence: [expect.stringMatching(/ENOSPC: no space left on device/)],
    });
    expect(event.elapsedMs).toBeGreaterThanOrEqual(300);
    expect(run.stderr.text()).toContain('ENOSPC');
  });

  it('network: a request to a local port that accepts but never answers', async () => {
    const { port } = silentServer.address() as { port: number };
    const run = await runFixture('runner-network.mjs', [String(port), '100'], {
      timeouts: IDLE,
      evidenceFile,
    });
    expect(run.report.exitCode).toBe(124);
    const event = await expectOneStall(run);
    expect(event.rootCause).toBe('network');
    expect(event.evidence).toEqual([expect.stringContaining(`read ETIMEDOUT 127.0.0.1:${port}`)]);
  });

  it('child_hang: a silent sleeper, on a quiet host', async () => {
    const run = await runFixture('runner-sleeper.mjs', [], { timeouts: IDLE, evidenceFile });
    expect(run.report.exitCode).toBe(124);
    const event = await expectOneStall(run);
    expect(event.rootCause).toBe('child_hang');
    expect(event.evidence).toEqual([
      'idle timeout: no output for 300 ms; no I/O, network, lock or host signal',
    ]);
  });

  it('lock: blocked on a lock file this test holds', async () => {
    const lockFile = join(dir, 'deploy.lock');
    await writeFile(lockFile, String(process.pid), { flag: 'wx' });
    const run = await runFixture('runner-lock.mjs', [lockFile], { timeouts: IDLE, evidenceFile });
    expect(run.report.exitCode).toBe(124);
    const event = await expectOneStall(run);
    expect(event.rootCause).toBe('lock');
    expect(event.evidence).toEqual([`waiting for lock ${lockFile}: held by pid ${process.pid} (EEXIST)`]);
  });

  it('cpu_starve: a silent sleeper on a host whose load is over the threshold (injected load reader)', async () => {
    const loaded = { ...QUIET_HOST, load1: 7.5, cores: 2 };
    const run = await runFixture('runner-sleeper.mjs', [], {
      timeouts: IDLE,
      evidenceFile,
      host: async () => loaded,
    });
    expect(run.report.exitCode).toBe(124);
    const event = await expectOneStall(run);
    expect(event.rootCause).toBe('cpu_starve');
    expect(event.evidence).toEqual(['host: load1=7.50 on 2 cores = 3.75/core > 2.00']);
  });

  it('cpu_starve threshold is configurable: the same injected load under a higher threshold is child_hang', async () => {
    const loaded = { ...QUIET_HOST, load1: 7.5, cores: 2 };
    const run = await runFixture('runner-sleeper.mjs', [], {
      timeouts: IDLE,
      evidenceFile,
      host: async () => loaded,
      thresholds: { loadPerCoreThreshold: 4 },
    });
    expect((await expectOneStall(run)).rootCause).toBe('child_hang');
  });
});

describe('runlane-agent run: deadlines, process tree, output', () => {
  it('hard timeout: a child that never goes quiet is stopped at hardMs (exit 125)', async () => {
    // The child writes every 40 ms; the idle deadline leaves room for a loaded machine pausing it.
    const run = await runFixture('runner-chatty.mjs', [], {
      timeouts: { idleMs: 1_500, hardMs: 2_000, killGraceMs: 200 },
      evidenceFile,
    });
    expect(run.report.exitCode).toBe(125);
    expect(run.report.outcome).toBe('hard_timeout');
    const event = await expectOneStall(run);
    expect(event).toMatchObject({ timeout: 'hard', rootCause: 'child_hang', idleMs: 1_500, hardMs: 2_000 });
    expect(event.elapsedMs).toBeGreaterThanOrEqual(2_000);
    expect(event.elapsedMs).toBeLessThan(3_500);
    expect(run.stdout.text()).toMatch(/^progress 1\nprogress 2\n/);
  });

  it('idle timeout: the same deadlines on a silent child fire idle first (exit 124)', async () => {
    const run = await runFixture('runner-sleeper.mjs', [], {
      timeouts: { idleMs: 300, hardMs: 700, killGraceMs: 200 },
      evidenceFile,
    });
    expect(run.report.exitCode).toBe(124);
    const event = await expectOneStall(run);
    expect(event.timeout).toBe('idle');
    expect(event.elapsedMs).toBeLessThan(700);
  });

  it('grandchildren that ignore SIGTERM, in the group and escaped from it, are gone afterwards', async () => {
    const run = await runFixture('runner-tree.mjs', [], {
      timeouts: { idleMs: 800, hardMs: 5_000, killGraceMs: 200 },
      evidenceFile,
    });
    expect(run.report.exitCode).toBe(124);
    const pids = JSON.parse(run.stdout.text().trim()) as { inGroup: number; escaped: number };
    const root = run.report.watch.pid;
    expect(isAlive(pids.inGroup)).toBe(false);
    expect(isAlive(pids.escaped)).toBe(false);
    expect(isAlive(root)).toBe(false);
    const kill = run.report.watch.stall?.kill;
    expect(kill?.pids).toEqual(expect.arrayContaining([root, pids.inGroup, pids.escaped]));
    // All three ignore SIGTERM, so all three needed SIGKILL after the grace period.
    expect(kill?.sigkilled).toEqual(expect.arrayContaining([root, pids.inGroup, pids.escaped]));
    expect(kill?.survivors).toEqual([]);
  });

  it('output passes through byte for byte, and the exit code is the child’s own', async () => {
    const run = await runFixture('runner-passthrough.mjs', [], { timeouts: IDLE, evidenceFile });
    expect(run.report.exitCode).toBe(7);
    expect(run.report.outcome).toBe('failure');
    expect(run.stdout.bytes()).toEqual(
      Buffer.concat([
        Buffer.from('plain line\r\n'),
        Buffer.from([0xe2, 0x82, 0xac, 0x0a]),
        Buffer.from('x'.repeat(70_000)),
      ]),
    );
    expect(run.stderr.bytes()).toEqual(
      Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x0a]), Buffer.from('no newline at end')]),
    );
    expect((await readEvidence(evidenceFile)).events).toEqual([]);
    expect(run.log).toEqual([]);
    const text = await run.metrics.text();
    expect(text).toMatch(/runlane_runner_runs_total\{[^}]*outcome="failure"\} 1/);
    expect(text).toMatch(/runlane_runner_run_duration_seconds_count\{[^}]*outcome="failure"\} 1/);
    expect(stallCounts(text)).toEqual(eventCounts([], STALL_ROOT_CAUSES));
  });
});

describe('metrics endpoint', () => {
  it('serves the registry on 127.0.0.1 /metrics and 404s anything else', async () => {
    const metrics = new RunnerMetrics({ environment: 'prod', host: 'h1', commandType: 'build' });
    metrics.recordStall('lock');
    metrics.recordRun('idle_timeout', 12_345);
    const server = await MetricsServer.listen(metrics.registry, 0);
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      const body = await response.text();
      expect(body).toContain(
        'runlane_runner_stalls_total{environment="prod",host="h1",command_type="build",root_cause="lock"} 1',
      );
      expect(stallCounts(body)).toEqual({ io_wait: 0, network: 0, child_hang: 0, lock: 1, cpu_starve: 0 });
      expect(body).toContain(
        'runlane_runner_run_duration_seconds_sum{environment="prod",host="h1",command_type="build",outcome="idle_timeout"} 12.345',
      );
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

it('fixtures are plain .mjs run by this Node', () => {
  expect(fixture('runner-sleeper.mjs')).toMatch(/\.mjs$/);
});
