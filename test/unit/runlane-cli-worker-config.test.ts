import { describe, expect, it } from 'vitest';
import { parseWorkerConfig } from '#agent/worker/config.js';
import { WorkerConfigError as AgentWorkerConfigError } from '#agent/worker/errors.js';
import { parseWorkerConfigFile, WorkerConfigError } from '#common/worker-config.js';
import { fieldPaths } from '../support/config-field-paths.js';

/**
 * `runlane workers config` checks the file it writes with common/worker-config.ts, the schema and
 * field resolution the agent runs with: both sides must agree on what a worker config is.
 */

const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/runlane-prod-worker-tasks-lab';
const file = {
  environment: 'prod',
  workerId: 'h1',
  site: 'lab',
  taskQueueUrl: QUEUE,
  apiUrl: 'https://api.example.com/',
  region: 'us-east-1',
};

describe('the worker config file, common to runlane and runlane-agent', () => {
  it('resolves a file as the agent does, plugins aside', () => {
    const { enabledPlugins, ...agent } = parseWorkerConfig(file, 'generated', {}, 'other-host');
    expect(parseWorkerConfigFile(file, 'generated', {}, 'other-host')).toEqual(agent);
    expect(enabledPlugins.size).toBe(0);
  });

  it('refuses what the agent refuses, with the same error and field paths', () => {
    const otherLane = { ...file, taskQueueUrl: QUEUE.replace('-lab', '-edge') };
    expect(fieldPaths(() => parseWorkerConfigFile(otherLane, 'generated', {}))).toEqual(['taskQueueUrl']);
    expect(fieldPaths(() => parseWorkerConfig(otherLane, 'generated', {}))).toEqual(['taskQueueUrl']);
    expect(AgentWorkerConfigError).toBe(WorkerConfigError);
    expect(fieldPaths(() => parseWorkerConfigFile({ environment: 'Prod!' }, 'x', {}, 'h'))).toEqual([
      'environment',
    ]);
  });
});
