import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, isAlive, runAgent } from './fixtures/runner-harness.js';
import { ctlClient, startSupervise } from './fixtures/supervise-process.js';

/**
 * `runlane-agent supervise` as an operator runs it (the real bin, its control socket) and
 * `runlane-agent ctl` against it: seed 001's health values, a second supervisor refused with
 * field_path="dashboard.path", and SIGTERM's three shutdown phases with nothing left behind.
 */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'supervise-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(): Promise<string> {
  const config = {
    environment: 'dev',
    host: 'ci-host-1',
    dashboard: { path: join(dir, 'supervisor.sock') },
    pidFile: join(dir, 'supervisor.pid.json'),
    healthIntervalMs: 1_000,
    reporting: { enabled: false },
    children: [
      {
        name: 'relay',
        command: process.execPath,
        args: [fixture('supervisor-child.mjs'), 'sleep'],
        restart: 'permanent',
      },
    ],
  };
  const file = join(dir, 'supervisor.json');
  await writeFile(file, JSON.stringify(config));
  return file;
}

const ctl = (...args: string[]) => ctlClient(join(dir, 'supervisor.sock'))(...args);

describe('runlane-agent supervise + ctl (real processes)', () => {
  it('reaches ready, answers ctl, refuses a second supervisor on dashboard.path, and shuts down in three phases', async () => {
    const config = await writeConfig();
    const supervise = startSupervise(config);
    try {
      await expect
        .poll(async () => (await ctl('health').catch(() => ({ body: null }))).body?.health?.status, {
          timeout: 15_000,
          interval: 200,
        })
        .toBe('ready');
      const health = (await ctl('health')).body.health;
      expect(health).toMatchObject({
        dashboard_link: 'disconnected', // reporting off
        children: { running: 1, failed: 0, quarantined: 0, target_count: 1 },
      });
      const before = health.control_loop_iterations;
      const state = (await ctl('state')).body.current_state;
      const [relay] = state.child_runtime_records;
      expect(relay).toMatchObject({ name: 'relay', state: 'running', restart_count: 0 });
      expect(isAlive(relay.pid)).toBe(true);
      await expect
        .poll(async () => (await ctl('health')).body.health.control_loop_iterations, { timeout: 5_000 })
        .toBeGreaterThan(before);

      const second = await runAgent(['supervise', '--config', config]);
      expect(second.status).toBe(2);
      expect(second.stderr).toContain('field_path="dashboard.path"');
      expect((await ctl('health')).status).toBe(0); // the first still answers

      supervise.child.kill('SIGTERM');
      expect(await supervise.exited).toBe(0);
      const log = supervise.stderr();
      const phases = [
        'ShutdownPhase::Draining',
        'ShutdownPhase::Terminating',
        'ShutdownPhase::Completed',
      ].map((phase) => log.indexOf(phase));
      expect(phases.every((at) => at >= 0)).toBe(true);
      expect([...phases].sort((a, b) => a - b)).toEqual(phases);
      expect(isAlive(relay.pid)).toBe(false);
      expect((await ctl('health').catch(() => ({ status: 1 }))).status).toBe(1); // socket gone
    } finally {
      supervise.child.kill('SIGKILL');
    }
  }, 60_000);

  it('config errors name their field path and exit 2; --help works', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(
      bad,
      JSON.stringify({
        environment: 'dev',
        dashboard: { path: join(dir, 's.sock') },
        children: [{ name: 'a', command: 'x', restart: 'sometimes' }],
      }),
    );
    const run = await runAgent(['supervise', '--config', bad]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('field_path="children.0.restart"');
    expect((await runAgent(['supervise', '--help'])).stdout.toString()).toMatch(
      /Usage: runlane-agent supervise/,
    );
  });
});
