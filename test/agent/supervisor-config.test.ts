import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  loadSupervisorConfig,
  parseChildSpec,
  parseSupervisorConfig,
  SupervisorConfigError,
} from '#agent/supervisor/index.js';

const base = {
  environment: 'prod',
  dashboard: { path: '/run/runlane/supervisor.sock' },
  children: [{ name: 'relay', command: 'relay' }],
};

/** The issues of the error `parse` throws (fails when it does not throw). */
function issuesOf(raw: unknown): { fieldPath: string; message: string }[] {
  try {
    parseSupervisorConfig(raw, 'test.json');
  } catch (error) {
    expect(error).toBeInstanceOf(SupervisorConfigError);
    return [...(error as SupervisorConfigError).issues];
  }
  throw new Error('expected a SupervisorConfigError');
}

describe('supervisor config', () => {
  it('fills defaults: permanent policy, backoff, budget, pid file, reporting as the runner has it', () => {
    const config = parseSupervisorConfig(base, 'test.json');
    expect(config).toMatchObject({
      pidFile: '.runlane-agent/supervisor.pid.json',
      healthIntervalMs: 30_000,
      dashboardLinkWindowMs: 90_000,
      controlLoopIntervalMs: 100,
      processTitle: 'supervisor',
      reporting: { enabled: true, eventBus: 'runlane-{environment}-telemetry' },
    });
    expect(config.crashReportDirectory).toBeUndefined(); // then the pid file's folder (crashReportDirectoryOf)
    expect(config.children[0]).toEqual({
      name: 'relay',
      command: 'relay',
      args: [],
      env: {},
      inheritAwsCredentials: false,
      restart: 'permanent',
      backoff: { initialMs: 100, maxMs: 30_000, multiplier: 2, resetAfterMs: 30_000 },
      restartBudget: { tokens: 5, refillWindowMs: 60_000 },
      killGraceMs: 2_000,
    });
  });

  it('the shipped example is valid', async () => {
    const config = await loadSupervisorConfig('config/supervisor.example.json');
    expect(config.children.map((c) => [c.name, c.restart])).toEqual([
      ['relay', 'permanent'],
      ['worker', 'transient'],
      ['migrate', 'temporary'],
    ]);
    expect(config.children[1]?.watchdog).toEqual({ idleMs: 120_000, hardMs: 3_600_000, killGraceMs: 5_000 });
  });

  it('duplicate names, a bad policy and an empty budget are all named by field path, in one error', () => {
    const raw = {
      ...base,
      children: [
        { name: 'relay', command: 'a', restart: 'sometimes' },
        { name: 'worker', command: 'b', restartBudget: { tokens: 0 } },
        { name: 'relay', command: 'c' },
      ],
    };
    const issues = issuesOf(raw);
    expect(issues.map((i) => i.fieldPath).sort()).toEqual([
      'children.0.restart',
      'children.1.restartBudget.tokens',
    ]);
    // Duplicates are checked once every entry is valid (the array's own check).
    const dup = issuesOf({
      ...base,
      children: [base.children[0], { name: 'w', command: 'x' }, base.children[0]],
    });
    expect(dup).toEqual([
      { fieldPath: 'children.2.name', message: 'duplicate child name "relay" (also children.0.name)' },
    ]);
    try {
      parseSupervisorConfig(raw, 'test.json');
    } catch (error) {
      expect((error as Error).message).toContain('field_path="children.0.restart"');
      expect((error as Error).message).toContain('field_path="children.1.restartBudget.tokens"');
      expect((error as Error).message).toContain('(test.json)');
    }
  });

  it('names dashboard.path, watchdog, backoff and unknown fields', () => {
    const issues = issuesOf({
      ...base,
      dashboard: {},
      extra: true,
      children: [
        {
          name: 'bad name!',
          command: '',
          watchdog: { killGraceMs: 100 },
          backoff: { initialMs: 500, maxMs: 100 },
        },
      ],
    });
    expect(issues.map((i) => i.fieldPath).sort()).toEqual([
      '(root)',
      'children.0.backoff.maxMs',
      'children.0.command',
      'children.0.name',
      'children.0.watchdog',
      'dashboard.path',
    ]);
  });

  it('a process title the kernel would cut (over 15 characters) is refused by field path', () => {
    expect(issuesOf({ ...base, processTitle: 'runlane-supervisor' })).toEqual([
      expect.objectContaining({ fieldPath: 'processTitle' }),
    ]);
    expect(issuesOf({ ...base, crashReportDirectory: '' })).toEqual([
      expect.objectContaining({ fieldPath: 'crashReportDirectory' }),
    ]);
  });

  it('a watchdog past the longest Node timer is refused', () => {
    expect(
      issuesOf({ ...base, children: [{ name: 'a', command: 'a', watchdog: { hardMs: 2 ** 31 } }] }),
    ).toEqual([expect.objectContaining({ fieldPath: 'children.0.watchdog.hardMs' })]);
  });

  it('add-child specs are validated alone (paths relative to the spec)', () => {
    expect(() => parseChildSpec({ name: 'x', command: 'y', restartBudget: { tokens: 0 } })).toThrow(
      /field_path="restartBudget.tokens"/,
    );
    expect(parseChildSpec({ name: 'x', command: 'y' }).restart).toBe('permanent');
  });

  it('a missing or malformed file is reported as such', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'supervisor-config-'));
    try {
      await expect(loadSupervisorConfig(join(dir, 'none.json'))).rejects.toThrow(
        /field_path="\(file\)": cannot be read/,
      );
      await writeFile(join(dir, 'bad.json'), '{');
      await expect(loadSupervisorConfig(join(dir, 'bad.json'))).rejects.toThrow(
        /field_path="\(root\)": is not valid JSON/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
