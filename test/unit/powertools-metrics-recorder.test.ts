import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import {
  flushMetricsAfterEachInvocation,
  PowertoolsMetricsRecorder,
} from '#adapters/powertools/metrics-recorder.js';
import { METRICS_NAMESPACE } from '#contracts/metrics.js';

interface EmfLine {
  readonly _aws: {
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly string[][];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

const LANE = 'runtime-agent-message-posted';

describe('PowertoolsMetricsRecorder', () => {
  let write: MockInstance<typeof process.stdout.write>;
  const emf = (): EmfLine[] =>
    write.mock.calls
      .flatMap(([chunk]) => String(chunk).split('\n'))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as EmfLine);

  beforeEach(() => {
    write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    write.mockRestore();
  });

  function workerRecorder() {
    return new PowertoolsMetricsRecorder({
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'runlane-lane-worker' }),
      environment: 'prod',
      bufferedDimensions: { Lane: LANE },
    });
  }

  it('buffers lane metrics into one EMF line with exactly Environment and Lane (no service dimension)', () => {
    const recorder = workerRecorder();
    recorder.record('commandsCompleted', 3, { Lane: LANE });
    recorder.record('endToEndLatency', 120, { Lane: LANE });
    recorder.record('endToEndLatency', 80, { Lane: LANE });
    expect(emf()).toEqual([]);

    recorder.flush();
    const lines = emf();
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line?._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'Runlane',
        Dimensions: [['Environment', 'Lane']],
        Metrics: [
          { Name: 'CommandsCompleted', Unit: 'Count' },
          { Name: 'EndToEndLatency', Unit: 'Milliseconds' },
        ],
      },
    ]);
    expect(line).toMatchObject({ Environment: 'prod', Lane: LANE, CommandsCompleted: 3 });
    expect(line?.EndToEndLatency).toEqual([120, 80]);
    expect(line).not.toHaveProperty('service');
  });

  it('writes a dead letter at once as its own line with Reason, leaving the buffer alone', () => {
    const recorder = workerRecorder();
    recorder.record('commandsCompleted', 1, { Lane: LANE });
    recorder.record('commandsDeadLettered', 2, { Lane: LANE, Reason: 'invalid_json' });
    const [deadLetters] = emf();
    expect(deadLetters?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['Environment', 'Lane', 'Reason']]);
    expect(deadLetters).toMatchObject({ Reason: 'invalid_json', CommandsDeadLettered: 2, Lane: LANE });
    expect(deadLetters).not.toHaveProperty('CommandsCompleted');
    expect(deadLetters).not.toHaveProperty('service');

    recorder.flush();
    const buffered = emf()[1];
    expect(buffered?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['Environment', 'Lane']]);
    expect(buffered).not.toHaveProperty('Reason');
  });

  it('writes per-command lane metrics of the API (no buffered lane) as their own lines', () => {
    const recorder = new PowertoolsMetricsRecorder({
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'runlane-api' }),
      environment: 'dev',
    });
    recorder.record('commandsAccepted', 1, { Lane: LANE });
    recorder.record('commandsAccepted', 1, { Lane: 'runtime-ingestion-completed' });
    const lines = emf();
    expect(lines.map((l) => [l.Lane, l.CommandsAccepted, l._aws.CloudWatchMetrics[0]?.Dimensions])).toEqual([
      [LANE, 1, [['Environment', 'Lane']]],
      ['runtime-ingestion-completed', 1, [['Environment', 'Lane']]],
    ]);
  });

  it('writes a RunnerStalls value at once as one line carrying every dimension set, at the given time', () => {
    const recorder = new PowertoolsMetricsRecorder({
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'runlane-runner-event-ingest' }),
      environment: 'prod',
    });
    const at = new Date(Date.now() - 10 * 60_000);
    recorder.record(
      'runnerStalls',
      1,
      { RootCause: 'lock', CommandType: 'deploy', Host: 'build-07' },
      { timestamp: at },
    );
    const lines = emf();
    expect(lines).toHaveLength(1);
    const [line] = lines as (EmfLine & { _aws: { Timestamp: number } })[];
    expect(line?._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'Runlane',
        Dimensions: [['Environment'], ['Environment', 'RootCause', 'CommandType'], ['Environment', 'Host']],
        Metrics: [{ Name: 'RunnerStalls', Unit: 'Count' }],
      },
    ]);
    expect(line?._aws.Timestamp).toBe(at.getTime());
    expect(line).toMatchObject({
      Environment: 'prod',
      RootCause: 'lock',
      CommandType: 'deploy',
      Host: 'build-07',
      RunnerStalls: 1,
    });
    expect(line).not.toHaveProperty('service');
    recorder.flush();
    expect(emf()).toHaveLength(1);
  });

  it('writes a lane metric recorded with a timestamp as its own line at that time', () => {
    const recorder = workerRecorder();
    const at = new Date(Date.now() - 60_000);
    recorder.record('commandsCompleted', 1, { Lane: LANE }, { timestamp: at });
    const [line] = emf() as (EmfLine & { _aws: { Timestamp: number } })[];
    expect(line?._aws.Timestamp).toBe(at.getTime());
    expect(line?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['Environment', 'Lane']]);
  });

  it('refuses dimensions the definition does not declare', () => {
    const recorder = workerRecorder();
    expect(() => recorder.record('commandsCompleted', 1, { Lane: LANE, Reason: 'x' } as never)).toThrow(
      /CommandsCompleted takes dimensions Environment, Lane/,
    );
    expect(() => recorder.record('commandsDeadLettered', 1, { Lane: LANE } as never)).toThrow(
      /CommandsDeadLettered takes dimensions Environment, Lane, Reason/,
    );
    expect(() => recorder.record('runnerStalls', 1, { RootCause: 'lock', Host: 'h' } as never)).toThrow(
      /RunnerStalls takes dimensions Environment, RootCause, CommandType, Host/,
    );
  });

  it('flushes after every invocation, also when the handler throws, and prints nothing when empty', async () => {
    const recorder = workerRecorder();
    const middleware = flushMetricsAfterEachInvocation(recorder);
    await middleware.after();
    expect(write).not.toHaveBeenCalled();
    recorder.record('duplicatesSkipped', 1, { Lane: LANE });
    await middleware.onError();
    expect(emf()).toHaveLength(1);
    expect(emf()[0]).toMatchObject({ DuplicatesSkipped: 1 });
  });
});
