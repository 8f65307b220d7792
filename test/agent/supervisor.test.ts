import { afterEach, describe, expect, it } from 'vitest';
import { supervisorChildEventSchema, supervisorHealthEventSchema } from '#contracts/agent-events.js';
import { child, cleanupHarnesses, harness, isAlive, record } from './fixtures/supervisor-harness.js';

afterEach(cleanupHarnesses);

/** Fast backoff so restart tests take milliseconds, not seconds. */
const FAST = { backoff: { initialMs: 10, maxMs: 50, multiplier: 1 } };

describe('Supervisor: restart policies and the restart budget', () => {
  it('a crash loop ends quarantined after exactly the budget (restart_count == tokens)', async () => {
    const h = await harness([
      child('worker', ['fail', '1', 'db connection refused'], {
        ...FAST,
        restartBudget: { tokens: 3, refillWindowMs: 600_000 },
      }),
      child('steady', ['sleep']),
    ]);
    await h.supervisor.start();
    await expect.poll(() => record(h, 'worker')?.state, { timeout: 10_000 }).toBe('quarantined');

    const worker = record(h, 'worker');
    expect(worker).toMatchObject({
      restart_count: 3,
      restart_budget: { tokens: 0, capacity: 3 },
      last_exit: { kind: 'Failed', code: 1, reason: 'db connection refused' },
      pid: null,
    });
    expect(h.supervisor.health()).toMatchObject({
      status: 'degraded',
      children: { running: 1, failed: 0, quarantined: 1, target_count: 2 },
    });
    expect(h.log.filter((l) => l.startsWith('TaskExit::Failed child=worker'))).toHaveLength(4);
    expect(h.log).toContainEqual(
      expect.stringMatching(/^TaskExit::Failed child=worker pid=\d+ code=1 reason="db connection refused"$/),
    );
    expect(h.log).toContainEqual(
      'quarantined child=worker restart_budget.tokens=0 restart_count=3 reason="restart budget exhausted"',
    );
    const events = h.reporter.childEvents('worker').map((e) => e.event);
    expect(events).toEqual([
      'exited',
      'restarted',
      'exited',
      'restarted',
      'exited',
      'restarted',
      'exited',
      'quarantined',
    ]);
    const quarantined = h.reporter.childEvents('worker').at(-1);
    expect(quarantined).toMatchObject({
      restartCount: 3,
      tokensLeft: 0,
      host: 'test-host',
      environment: 'test',
    });
    for (const event of h.reporter.childEvents())
      expect(supervisorChildEventSchema.safeParse(event).success).toBe(true);
    for (const event of h.reporter.healthEvents())
      expect(supervisorHealthEventSchema.safeParse(event).success).toBe(true);

    // Stays quarantined: no further start.
    const iterations = h.supervisor.health().control_loop_iterations;
    await expect.poll(() => h.supervisor.health().control_loop_iterations).toBeGreaterThan(iterations + 3);
    expect(record(h, 'worker')?.restart_count).toBe(3);
  });

  it('transient: exit 0 is not restarted, exit 1 is', async () => {
    const h = await harness([
      child('clean', ['exit', '0'], { ...FAST, restart: 'transient' }),
      child('dirty', ['exit', '1'], {
        ...FAST,
        restart: 'transient',
        restartBudget: { tokens: 1, refillWindowMs: 600_000 },
      }),
    ]);
    await h.supervisor.start();
    await expect.poll(() => record(h, 'dirty')?.state, { timeout: 10_000 }).toBe('quarantined');
    await expect.poll(() => record(h, 'clean')?.state).toBe('exited');
    expect(record(h, 'dirty')?.restart_count).toBe(1);
    expect(record(h, 'clean')).toMatchObject({ restart_count: 0, last_exit: { kind: 'Exited', code: 0 } });
    expect(h.reporter.childEvents('clean').map((e) => e.event)).toEqual(['exited']);
    // The clean child is done: not wanted running any more.
    expect(h.supervisor.health().children).toMatchObject({ running: 0, target_count: 1 });
  });

  it('temporary is never restarted; permanent is restarted after exit 0', async () => {
    const h = await harness([
      child('once', ['exit', '3'], { ...FAST, restart: 'temporary' }),
      child('always', ['exit', '0', '30'], { ...FAST, restart: 'permanent' }),
    ]);
    await h.supervisor.start();
    await expect
      .poll(() => record(h, 'always')?.restart_count, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(2);
    expect(record(h, 'once')).toMatchObject({
      state: 'failed',
      restart_count: 0,
      last_exit: { kind: 'Failed', code: 3 },
    });
    expect(record(h, 'always')?.last_exit).toMatchObject({ kind: 'Exited', code: 0 });
    expect(h.supervisor.health().children.failed).toBe(1);
    expect(h.supervisor.health().status).toBe('degraded');
  });

  it('backoff grows by the multiplier up to maxMs', async () => {
    const h = await harness([
      child('worker', ['exit', '1'], {
        backoff: { initialMs: 20, maxMs: 200, multiplier: 3 },
        restartBudget: { tokens: 4, refillWindowMs: 600_000 },
      }),
    ]);
    await h.supervisor.start();
    await expect.poll(() => record(h, 'worker')?.state, { timeout: 10_000 }).toBe('quarantined');
    const delays = h.log.flatMap(
      (l) => /^backoff child=worker attempt=(\d+) delay_ms=(\d+)/.exec(l)?.slice(1, 3) ?? [],
    );
    expect(delays).toEqual(['1', '20', '2', '60', '3', '180', '4', '200']);
    // The delays really were waited: restarts 3 → 4 took at least 200 ms.
    const restarts = h.reporter
      .childEvents('worker')
      .filter((e) => e.event === 'restarted')
      .map((e) => Date.parse(e.ts));
    expect(restarts).toHaveLength(4);
    expect((restarts[3] ?? 0) - (restarts[2] ?? 0)).toBeGreaterThanOrEqual(200);
  });

  it('the budget refills over the window: a child failing slower than the refill is never quarantined', async () => {
    // 1 token refilled every 300 ms; the child runs 400 ms before failing.
    const slow = await harness([
      child('slow', ['exit', '1', '400'], { ...FAST, restartBudget: { tokens: 1, refillWindowMs: 300 } }),
    ]);
    // Same child, window far away: quarantined at the second failure.
    const starved = await harness([
      child('slow', ['exit', '1', '400'], { ...FAST, restartBudget: { tokens: 1, refillWindowMs: 600_000 } }),
    ]);
    await Promise.all([slow.supervisor.start(), starved.supervisor.start()]);
    await expect
      .poll(() => record(slow, 'slow')?.restart_count, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(3);
    expect(record(slow, 'slow')?.state).not.toBe('quarantined');
    expect(record(starved, 'slow')).toMatchObject({ state: 'quarantined', restart_count: 1 });
  });

  it('a child that blocks forever under the watchdog is killed (idle timeout), counted and restarted', async () => {
    const h = await harness([
      child('blocked', ['silent'], {
        ...FAST,
        watchdog: { idleMs: 300, killGraceMs: 200 },
        restartBudget: { tokens: 5, refillWindowMs: 600_000 },
      }),
    ]);
    await h.supervisor.start();
    const firstPid = record(h, 'blocked')?.pid;
    await expect
      .poll(() => record(h, 'blocked')?.restart_count, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(1);
    expect(record(h, 'blocked')?.last_exit).toMatchObject({
      kind: 'Killed',
      signal: 'SIGTERM',
      reason: 'idle timeout',
    });
    expect(h.log).toContainEqual(
      expect.stringMatching(/^TaskExit::Killed child=blocked pid=\d+ signal=SIGTERM reason="idle timeout"$/),
    );
    expect(h.reporter.childEvents('blocked')[0]).toMatchObject({
      event: 'exited',
      pid: firstPid,
      exit: { kind: 'Killed', reason: 'idle timeout' },
    });
    expect(isAlive(firstPid ?? 0)).toBe(false);
  });

  it('classifies Panicked: a crash signal and an uncaught error', async () => {
    const h = await harness([
      child('segv', ['signal', 'SIGSEGV'], { restart: 'temporary' }),
      child('thrower', ['throw', 'invariant broken'], { restart: 'temporary' }),
    ]);
    await h.supervisor.start();
    await expect.poll(() => record(h, 'segv')?.state, { timeout: 10_000 }).toBe('failed');
    await expect.poll(() => record(h, 'thrower')?.state, { timeout: 10_000 }).toBe('failed');
    expect(record(h, 'segv')?.last_exit).toMatchObject({
      kind: 'Panicked',
      signal: 'SIGSEGV',
      reason: 'crash signal SIGSEGV',
    });
    expect(record(h, 'thrower')?.last_exit).toMatchObject({
      kind: 'Panicked',
      code: 1,
      reason: 'Error: invariant broken',
    });
    expect(h.log).toContainEqual(
      expect.stringMatching(
        /^TaskExit::Panicked child=thrower pid=\d+ code=1 reason="Error: invariant broken"$/,
      ),
    );
  });

  it('a command that cannot start is Failed with its errno, then restarted under the budget', async () => {
    const h = await harness([
      {
        name: 'ghost',
        command: '/nonexistent/binary',
        ...FAST,
        restartBudget: { tokens: 2, refillWindowMs: 600_000 },
      },
    ]);
    await h.supervisor.start();
    await expect.poll(() => record(h, 'ghost')?.state, { timeout: 10_000 }).toBe('quarantined');
    expect(record(h, 'ghost')).toMatchObject({
      restart_count: 2,
      last_exit: { kind: 'Failed', reason: 'cannot start: ENOENT' },
    });
  });
});

describe('Supervisor: health and reporting', () => {
  it('starting before start(), then ready; health events on status changes and every healthIntervalMs', async () => {
    const h = await harness([child('a', ['sleep']), child('b', ['sleep'])], {
      healthIntervalMs: 200,
      dashboardLinkWindowMs: 45_000,
    });
    expect(h.supervisor.health().status).toBe('starting');
    await h.supervisor.start();
    expect(h.supervisor.health()).toMatchObject({
      status: 'ready',
      dashboard_link: 'connected',
      children: { running: 2, failed: 0, quarantined: 0, target_count: 2 },
    });
    expect(h.reporter.windows).toContain(45_000);
    h.reporter.link = 'disconnected';
    expect(h.supervisor.health().dashboard_link).toBe('disconnected');
    await expect.poll(() => h.reporter.healthEvents().length, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    const health = h.reporter.healthEvents();
    expect(health[0]).toMatchObject({ status: 'ready', children: { running: 2, targetCount: 2 } });
    expect(health.at(-1)).toMatchObject({ dashboardLink: 'disconnected' });
    expect(h.log).toContain('SupervisorStatus::ready');
  });

  it('without a reporter, dashboard_link is disconnected', async () => {
    const { Supervisor } = await import('#agent/supervisor/supervisor.js');
    const h = await harness([]);
    const bare = new Supervisor(h.config, { log: () => {} });
    expect(bare.health().dashboard_link).toBe('disconnected');
    await bare.shutdown();
  });
});

describe('Supervisor: control commands', () => {
  it('remove-child answers Accepted; then running == target_count and no record is left', async () => {
    const h = await harness([
      child('worker', ['fail', '1', 'boom'], {
        ...FAST,
        restartBudget: { tokens: 1, refillWindowMs: 600_000 },
      }),
      child('relay', ['sleep']),
    ]);
    await h.supervisor.start();
    await expect.poll(() => record(h, 'worker')?.state, { timeout: 10_000 }).toBe('quarantined');
    expect(h.supervisor.currentState().children).toMatchObject({ running: 1, target_count: 2 });

    await expect(h.supervisor.execute({ command: 'remove-child', name: 'worker' })).resolves.toEqual({
      result: 'Accepted',
    });
    const state = h.supervisor.currentState();
    expect(state.child_runtime_records.map((r) => r.name)).toEqual(['relay']);
    expect(state.children).toEqual({ running: 1, failed: 0, quarantined: 0, target_count: 1 });
    expect(state.status).toBe('ready');
    expect(h.reporter.childEvents('worker').at(-1)?.event).toBe('removed');
    await expect(h.supervisor.execute({ command: 'remove-child', name: 'worker' })).resolves.toEqual({
      result: 'Rejected',
      reason: 'unknown child "worker"',
    });
  });

  it('remove-child of a running child stops its process', async () => {
    const h = await harness([child('relay', ['sleep'])]);
    await h.supervisor.start();
    const pid = record(h, 'relay')?.pid ?? 0;
    expect(isAlive(pid)).toBe(true);
    await h.supervisor.execute({ command: 'remove-child', name: 'relay' });
    await expect.poll(() => isAlive(pid)).toBe(false);
    expect(h.supervisor.health().children).toEqual({
      running: 0,
      failed: 0,
      quarantined: 0,
      target_count: 0,
    });
  });

  it('add-child validates the spec, refuses duplicates, starts the child', async () => {
    const h = await harness([child('relay', ['sleep'])]);
    await h.supervisor.start();
    await expect(
      h.supervisor.execute({ command: 'add-child', spec: child('relay', ['sleep']) }),
    ).resolves.toEqual({
      result: 'Rejected',
      reason: 'child "relay" already exists',
    });
    const bad = await h.supervisor.execute({
      command: 'add-child',
      spec: { ...child('extra', ['sleep']), restart: 'sometimes', restartBudget: { tokens: 0 } },
    });
    expect(bad.result).toBe('Rejected');
    expect(bad.result === 'Rejected' && bad.reason).toMatch(/field_path="restart"/);
    expect(bad.result === 'Rejected' && bad.reason).toMatch(/field_path="restartBudget.tokens"/);

    await expect(
      h.supervisor.execute({ command: 'add-child', spec: child('extra', ['sleep']) }),
    ).resolves.toEqual({
      result: 'Accepted',
    });
    expect(record(h, 'extra')).toMatchObject({ state: 'running', pid: expect.any(Number) });
    expect(h.supervisor.health().children).toMatchObject({ running: 2, target_count: 2 });
    expect(h.reporter.childEvents('extra').map((e) => e.event)).toEqual(['added']);
  });

  it('quarantine-child stops it and keeps it down; release-child brings it back with a fresh budget', async () => {
    const h = await harness([
      child('relay', ['sleep'], { restartBudget: { tokens: 2, refillWindowMs: 600_000 } }),
    ]);
    await h.supervisor.start();
    const pid = record(h, 'relay')?.pid ?? 0;
    await expect(h.supervisor.execute({ command: 'quarantine-child', name: 'relay' })).resolves.toEqual({
      result: 'Accepted',
    });
    expect(record(h, 'relay')?.state).toBe('quarantined');
    await expect.poll(() => isAlive(pid)).toBe(false);
    await expect.poll(() => record(h, 'relay')?.pid).toBeNull();
    expect(record(h, 'relay')).toMatchObject({
      state: 'quarantined',
      last_exit: { kind: 'Killed', reason: 'operator: quarantine-child' },
    });
    expect(h.supervisor.health()).toMatchObject({
      status: 'degraded',
      children: { quarantined: 1, running: 0 },
    });
    await expect(h.supervisor.execute({ command: 'quarantine-child', name: 'relay' })).resolves.toMatchObject(
      { result: 'Rejected' },
    );
    await expect(h.supervisor.execute({ command: 'restart-child', name: 'relay' })).resolves.toEqual({
      result: 'Rejected',
      reason: 'child "relay" is quarantined; release-child first',
    });

    await expect(h.supervisor.execute({ command: 'release-child', name: 'relay' })).resolves.toEqual({
      result: 'Accepted',
    });
    expect(record(h, 'relay')).toMatchObject({ state: 'running', restart_budget: { tokens: 2 } });
    expect(record(h, 'relay')?.pid).not.toBe(pid);
    await expect(h.supervisor.execute({ command: 'release-child', name: 'relay' })).resolves.toEqual({
      result: 'Rejected',
      reason: 'child "relay" is not quarantined (state running)',
    });
    expect(h.reporter.childEvents('relay').map((e) => e.event)).toEqual([
      'quarantined',
      'exited',
      'released',
    ]);
  });

  it('restart-child replaces the process without taking a budget token', async () => {
    const h = await harness([
      child('relay', ['sleep'], { restartBudget: { tokens: 2, refillWindowMs: 600_000 } }),
    ]);
    await h.supervisor.start();
    const pid = record(h, 'relay')?.pid ?? 0;
    await expect(h.supervisor.execute({ command: 'restart-child', name: 'relay' })).resolves.toEqual({
      result: 'Accepted',
    });
    await expect.poll(() => record(h, 'relay')?.restart_count, { timeout: 5_000 }).toBe(1);
    expect(record(h, 'relay')).toMatchObject({
      state: 'running',
      restart_budget: { tokens: 2 },
      last_exit: { kind: 'Killed', reason: 'operator: restart-child' },
    });
    expect(record(h, 'relay')?.pid).not.toBe(pid);
    expect(isAlive(pid)).toBe(false);
    await expect(h.supervisor.execute({ command: 'restart-child', name: 'nobody' })).resolves.toEqual({
      result: 'Rejected',
      reason: 'unknown child "nobody"',
    });
  });

  it('control_loop_iterations keeps increasing while a removed child ignores SIGTERM', async () => {
    const h = await harness([child('stubborn', ['stubborn'], { killGraceMs: 1_500 })]);
    await h.supervisor.start();
    await expect.poll(() => h.output.get('stubborn')).toContain('ready');
    const pid = record(h, 'stubborn')?.pid ?? 0;
    await expect(h.supervisor.execute({ command: 'remove-child', name: 'stubborn' })).resolves.toEqual({
      result: 'Accepted',
    });
    const before = h.supervisor.health().control_loop_iterations;
    // 50 ms ticks: at least 5 more turns while the child still ignores its SIGTERM.
    await expect.poll(() => h.supervisor.health().control_loop_iterations).toBeGreaterThanOrEqual(before + 5);
    expect(isAlive(pid)).toBe(true);
    await expect.poll(() => isAlive(pid), { timeout: 5_000 }).toBe(false); // SIGKILL after the grace
  });
});

describe('Seed 001 procedures against the handle', () => {
  it('P1-002 crash loop: failed > 0 with restart_count rising, Failed with reason, quarantined at tokens == 0, remove leaves running == target_count', async () => {
    const h = await harness([
      child('worker', ['fail', '1', 'cannot open /var/lib/worker.db'], {
        backoff: { initialMs: 150, maxMs: 150, multiplier: 1 },
        restartBudget: { tokens: 2, refillWindowMs: 600_000 },
      }),
      child('relay', ['sleep']),
    ]);
    await h.supervisor.start();
    // Step 1: while it loops, the child counts as failed and its restart_count climbs.
    await expect.poll(() => h.supervisor.currentState().children.failed, { timeout: 5_000 }).toBe(1);
    await expect.poll(() => record(h, 'worker')?.restart_count, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
    // Step 2: the journal has the exit reason.
    expect(h.log).toContainEqual(
      expect.stringMatching(/^TaskExit::Failed child=worker .*reason="cannot open \/var\/lib\/worker.db"$/),
    );
    // Step 3: budget exhausted, quarantined automatically.
    await expect.poll(() => record(h, 'worker')?.state, { timeout: 5_000 }).toBe('quarantined');
    expect(record(h, 'worker')?.restart_budget.tokens).toBe(0);
    // Steps 4-5.
    await expect(h.supervisor.execute({ command: 'remove-child', name: 'worker' })).resolves.toEqual({
      result: 'Accepted',
    });
    const { children } = h.supervisor.currentState();
    expect(children.running).toBe(children.target_count);
    expect(children).toMatchObject({ running: 1, failed: 0, quarantined: 0 });
  });

  it('P1-004 starvation check: iterations advance; a blocking child quarantined; iterations still advance', async () => {
    const h = await harness([
      child('blocker', ['stubborn'], { killGraceMs: 1_000 }),
      child('relay', ['sleep']),
    ]);
    await h.supervisor.start();
    const first = h.supervisor.health().control_loop_iterations;
    await expect.poll(() => h.supervisor.health().control_loop_iterations).toBeGreaterThan(first + 3);
    await expect(h.supervisor.execute({ command: 'quarantine-child', name: 'blocker' })).resolves.toEqual({
      result: 'Accepted',
    });
    expect(record(h, 'blocker')?.state).toBe('quarantined');
    const during = h.supervisor.health().control_loop_iterations;
    await expect.poll(() => h.supervisor.health().control_loop_iterations).toBeGreaterThan(during + 3);
    expect(h.supervisor.health()).toMatchObject({
      status: 'degraded',
      children: { quarantined: 1, running: 1 },
    });
  });
});
