import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RunnerConfigError } from '#agent/errors.js';
import {
  DEFAULT_RUNNER_CONFIG_FILE,
  loadRunnerConfig,
  parseRunnerConfig,
  resolveTimeouts,
} from '#agent/runner/config.js';
import { fixture } from './fixtures/runner-harness.js';

const config = parseRunnerConfig(JSON.parse(readFileSync(fixture('runner-config.json'), 'utf8')), 'fixture');

function configError(run: () => unknown): RunnerConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof RunnerConfigError) return error;
    throw error;
  }
  throw new Error('expected a RunnerConfigError');
}

describe('runner config', () => {
  it('the shipped config/runner.json is valid: 12 s idle / 45 s hard in every environment', async () => {
    const shipped = await loadRunnerConfig(DEFAULT_RUNNER_CONFIG_FILE);
    for (const environment of ['dev', 'staging', 'prod']) {
      expect(resolveTimeouts(shipped, environment, {}, {})).toMatchObject({ idleMs: 12_000, hardMs: 45_000 });
    }
    expect(shipped.metricsPort).toBe(4001);
    expect(shipped.evidenceFile).toBe('evidence/runner/stall-events.jsonl');
  });

  it('errors name every bad field by its path', () => {
    const error = configError(() =>
      parseRunnerConfig(JSON.parse(readFileSync(fixture('runner-config-bad.json'), 'utf8')), 'bad.json'),
    );
    expect(error.issues.map((i) => i.fieldPath).sort()).toEqual([
      'environments.prod.idleMs',
      'rootCause.loadPerCoreThreshold',
    ]);
    expect(error.message).toContain('bad.json');
  });

  it('unknown keys and a missing defaults block are errors too', () => {
    const error = configError(() => parseRunnerConfig({ environments: {}, idleMs: 5 }, 'x'));
    expect(error.issues.map((i) => i.fieldPath)).toEqual(expect.arrayContaining(['defaults', '(root)']));
  });

  it('a file that is not JSON names the file', async () => {
    await expect(loadRunnerConfig(fixture('runner-stubborn.mjs'))).rejects.toThrow(
      /runner-stubborn\.mjs[\s\S]*not valid JSON/,
    );
  });
});

describe('resolveTimeouts: defaults < environment < RUNNER_* env < flags', () => {
  it('environment entries beat defaults', () => {
    expect(resolveTimeouts(config, 'prod', {}, {})).toEqual({
      idleMs: 15_000,
      hardMs: 20_000,
      killGraceMs: 100,
    });
  });

  it('RUNNER_IDLE_MS / RUNNER_HARD_MS beat the config', () => {
    expect(resolveTimeouts(config, 'prod', { RUNNER_IDLE_MS: '14400', RUNNER_HARD_MS: '54000' }, {})).toEqual(
      {
        idleMs: 14_400,
        hardMs: 54_000,
        killGraceMs: 100,
      },
    );
  });

  it('flags beat the environment variables', () => {
    expect(
      resolveTimeouts(
        config,
        'prod',
        { RUNNER_IDLE_MS: '14400', RUNNER_HARD_MS: '54000' },
        { idleMs: 300, killGraceMs: 0 },
      ),
    ).toEqual({ idleMs: 300, hardMs: 54_000, killGraceMs: 0 });
  });

  it('a malformed variable and an unknown environment are named, all at once', () => {
    const error = configError(() =>
      resolveTimeouts(config, 'qa', { RUNNER_IDLE_MS: '12s', RUNNER_HARD_MS: '-1' }, {}),
    );
    expect(error.issues.map((i) => i.fieldPath)).toEqual([
      'environments.qa',
      'RUNNER_IDLE_MS',
      'RUNNER_HARD_MS',
    ]);
    expect(error.message).toContain('known: dev, prod');
  });
});
