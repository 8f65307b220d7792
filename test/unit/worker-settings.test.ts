import { describe, expect, it } from 'vitest';
import { DEFAULT_HEARTBEAT_STALE_MULTIPLE } from '#contracts/worker-contract.js';
import { WorkerSettingsError } from '#core/workers/errors.js';
import { DEFAULT_WORKER_SETTINGS, readWorkerSettings } from '#core/workers/settings.js';

describe('readWorkerSettings', () => {
  it('defaults to delegation off, the contract’s stale multiple, no lanes and a one-hour result deadline', () => {
    expect(readWorkerSettings({})).toEqual(DEFAULT_WORKER_SETTINGS);
    expect(DEFAULT_WORKER_SETTINGS).toMatchObject({
      delegationEnabledDefault: false,
      heartbeatStaleMultiple: DEFAULT_HEARTBEAT_STALE_MULTIPLE,
      taskQueueUrls: {},
      resultDeadlineMs: 3_600_000,
    });
  });

  it('reads every variable', () => {
    expect(
      readWorkerSettings({
        WORKER_DELEGATION_ENABLED: 'true',
        WORKER_HEARTBEAT_STALE_MULTIPLE: '2.5',
        WORKER_TASK_QUEUE_URLS: '{"lab":"http://127.0.0.1:1/q/runlane-dev-worker-tasks-lab"}',
        WORKER_STUCK_TASK_MINUTES: '5',
        WORKER_RESULT_DEADLINE_SECONDS: '900',
      }),
    ).toEqual({
      delegationEnabledDefault: true,
      heartbeatStaleMultiple: 2.5,
      taskQueueUrls: { lab: 'http://127.0.0.1:1/q/runlane-dev-worker-tasks-lab' },
      stuckTaskAfterMs: 300_000,
      resultDeadlineMs: 900_000,
    });
    expect(readWorkerSettings({ WORKER_DELEGATION_ENABLED: 'false' }).delegationEnabledDefault).toBe(false);
  });

  it.each([
    ['WORKER_DELEGATION_ENABLED', 'yes'],
    ['WORKER_HEARTBEAT_STALE_MULTIPLE', '0'],
    ['WORKER_HEARTBEAT_STALE_MULTIPLE', 'many'],
    ['WORKER_TASK_QUEUE_URLS', 'not json'],
    ['WORKER_TASK_QUEUE_URLS', '["x"]'],
    ['WORKER_TASK_QUEUE_URLS', '{"Bad Site":"u"}'],
    ['WORKER_TASK_QUEUE_URLS', '{"lab":3}'],
    ['WORKER_STUCK_TASK_MINUTES', '-1'],
    ['WORKER_RESULT_DEADLINE_SECONDS', '0'],
    ['WORKER_RESULT_DEADLINE_SECONDS', 'soon'],
    ['WORKER_RESULT_DEADLINE_SECONDS', '604801'],
  ])('throws naming %s when it is %s', (name, value) => {
    expect(() => readWorkerSettings({ [name]: value })).toThrow(WorkerSettingsError);
    expect(() => readWorkerSettings({ [name]: value })).toThrow(name);
  });
});
