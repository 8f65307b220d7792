import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  classifyExit,
  createPanicHandler,
  formatPanic,
  formatTaskExit,
  panicText,
  RestartBudget,
  writeCrashReport,
} from '#agent/supervisor/index.js';

const at = new Date('2026-01-01T00:00:00.000Z');
const facts = { outputLines: [], stderrLines: [], at };

describe('RestartBudget (token bucket)', () => {
  it('takes one token per restart and refuses at zero', () => {
    let now = 0;
    const bucket = new RestartBudget(3, 60_000, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    expect(bucket.tokens).toBe(0);
    now = 19_999;
    expect(bucket.tokens).toBe(0);
  });

  it('refills continuously: capacity / window per ms, never above capacity', () => {
    let now = 0;
    const bucket = new RestartBudget(3, 60_000, () => now);
    bucket.take();
    bucket.take();
    bucket.take();
    now = 20_000; // one token's worth
    expect(bucket.tokens).toBe(1);
    now = 50_000;
    expect(bucket.tokens).toBe(2);
    now = 10_000_000;
    expect(bucket.tokens).toBe(3);
    bucket.take();
    expect(bucket.tokens).toBe(2);
    bucket.reset();
    expect(bucket.tokens).toBe(3);
  });
});

describe('backoffDelay', () => {
  it('grows by the multiplier from initialMs, capped at maxMs', () => {
    const settings = { initialMs: 100, maxMs: 1_000, multiplier: 2 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(settings, n))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect(backoffDelay({ initialMs: 0, maxMs: 5, multiplier: 3 }, 4)).toBe(0);
  });
});

describe('classifyExit (TaskExit)', () => {
  it('Exited on code 0', () => {
    expect(classifyExit({ ...facts, result: { exitCode: 0, signal: null } })).toEqual({
      kind: 'Exited',
      code: 0,
      at: at.toISOString(),
    });
  });

  it('Failed with the last stderr line, or the code when stderr is empty', () => {
    expect(
      classifyExit({ ...facts, stderrLines: ['retrying', 'db down'], result: { exitCode: 3, signal: null } }),
    ).toMatchObject({ kind: 'Failed', code: 3, reason: 'db down' });
    expect(classifyExit({ ...facts, result: { exitCode: 3, signal: null } })).toMatchObject({
      kind: 'Failed',
      reason: 'exit code 3',
    });
    expect(
      classifyExit({ ...facts, spawnError: Object.assign(new Error('x'), { code: 'EACCES' }) }),
    ).toMatchObject({
      kind: 'Failed',
      reason: 'cannot start: EACCES',
    });
  });

  it('Panicked on a crash signal, a shell 128+n crash code, or uncaught-error text', () => {
    for (const signal of ['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGILL', 'SIGFPE'] as const) {
      expect(classifyExit({ ...facts, result: { exitCode: null, signal } })).toMatchObject({
        kind: 'Panicked',
        signal,
        reason: `crash signal ${signal}`,
      });
    }
    expect(classifyExit({ ...facts, result: { exitCode: 139, signal: null } })).toMatchObject({
      kind: 'Panicked',
      reason: 'crash signal SIGSEGV (exit code 139)',
    });
    const node = [
      'file:///app/x.js:3',
      'TypeError: x is not a function',
      '    at main (file:///app/x.js:3:1)',
      'Node.js v24.9.0',
    ];
    expect(
      classifyExit({ ...facts, outputLines: node, result: { exitCode: 1, signal: null } }),
    ).toMatchObject({
      kind: 'Panicked',
      code: 1,
      reason: 'TypeError: x is not a function',
    });
    expect(panicText(["thread 'main' panicked at src/main.rs:2:5:"])).toBe(
      "thread 'main' panicked at src/main.rs:2:5:",
    );
    expect(panicText(['panic: runtime error: index out of range'])).toBe(
      'panic: runtime error: index out of range',
    );
    expect(panicText(['Traceback (most recent call last):', '  File "x.py"', 'ValueError: no'])).toBe(
      'Traceback (most recent call last):',
    );
    // An error message without a stack is an ordinary failure.
    expect(panicText(['Error: config missing'])).toBeUndefined();
  });

  it('Killed by the watchdog (idle / hard), by the supervisor, or by a signal from outside', () => {
    const kill = { pids: [1], sigkilled: [], survivors: [] };
    const stall = { pid: 1, timeout: 'idle' as const, elapsedMs: 300, lines: [], kill };
    expect(classifyExit({ ...facts, result: { exitCode: null, signal: 'SIGTERM', stall } })).toMatchObject({
      kind: 'Killed',
      reason: 'idle timeout',
    });
    expect(
      classifyExit({
        ...facts,
        result: { exitCode: null, signal: 'SIGTERM', stall: { ...stall, timeout: 'hard' } },
      }),
    ).toMatchObject({ kind: 'Killed', reason: 'hard timeout' });
    expect(
      classifyExit({
        ...facts,
        stopCause: 'shutdown',
        result: { exitCode: null, signal: 'SIGKILL', aborted: { signal: 'SIGTERM', kill } },
      }),
    ).toMatchObject({ kind: 'Killed', signal: 'SIGKILL', reason: 'operator: shutdown' });
    expect(classifyExit({ ...facts, result: { exitCode: null, signal: 'SIGKILL' } })).toMatchObject({
      kind: 'Killed',
      reason: 'signal SIGKILL not sent by the supervisor',
    });
  });

  it('log lines are one greppable line', () => {
    expect(
      formatTaskExit('worker', { kind: 'Failed', code: 1, reason: 'db "primary" down', at: '' }, 42),
    ).toBe('TaskExit::Failed child=worker pid=42 code=1 reason="db \\"primary\\" down"');
  });
});

describe('Panic', () => {
  it('formats one line with the first stack frame', () => {
    const error = new Error('boom\nsecond line');
    expect(formatPanic(error)).toMatch(
      /^Panic: Error: boom second line at .+supervisor-policy\.test\.ts:\d+:\d+/,
    );
    expect(formatPanic('plain')).toBe('Panic: plain');
  });

  it('logs once, runs beforeExit, exits 70', () => {
    const log: string[] = [];
    const codes: number[] = [];
    let signalled = 0;
    const handler = createPanicHandler({
      log: (line) => log.push(line),
      exit: (code) => codes.push(code),
      beforeExit: () => {
        signalled++;
        throw new Error('ignored');
      },
    });
    handler(new RangeError('bad'));
    handler(new Error('again'));
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/^Panic: RangeError: bad/);
    expect(codes).toEqual([70]);
    expect(signalled).toBe(1);
  });

  it('writes the crash report first and names it at the end of the Panic line; a failing report does not stop the exit', () => {
    const log: string[] = [];
    const codes: number[] = [];
    const order: string[] = [];
    createPanicHandler({
      log: (line) => log.push(line),
      exit: (code) => codes.push(code),
      writeReport: () => {
        order.push('report');
        return '/tmp/runlane-supervisor-panic-x.json';
      },
      beforeExit: () => {
        order.push('children');
      },
    })(new Error('boom'));
    expect(order).toEqual(['report', 'children']);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/^Panic: Error: boom at .+ crash_report=\/tmp\/runlane-supervisor-panic-x\.json$/);

    createPanicHandler({
      log: (line) => log.push(line),
      exit: (code) => codes.push(code),
      writeReport: () => {
        throw new Error('disk full');
      },
    })(new Error('second'));
    expect(log[1]).toMatch(/^Panic: Error: second at /);
    expect(log[1]).not.toContain('crash_report=');
    expect(codes).toEqual([70, 70]);
  });

  it('writeCrashReport writes the diagnostic report (stacks, no environment) or returns undefined', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crash-report-'));
    try {
      const file = writeCrashReport(dir, new TypeError('wedged'), new Date('2026-11-25T09:08:07Z'));
      expect(file).toBe(join(dir, `runlane-supervisor-panic-20261125T090807-${process.pid}.json`));
      const report = JSON.parse(await readFile(file as string, 'utf8'));
      expect(report.javascriptStack.message).toContain('wedged');
      expect(report.nativeStack.length).toBeGreaterThan(0);
      expect(report).not.toHaveProperty('environmentVariables');
      expect(writeCrashReport(join(dir, 'missing', 'dir'), new Error('x'))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
