import { resolve } from 'node:path';
import { EventBridgeClient, type EventBridgeClientConfig } from '@aws-sdk/client-eventbridge';
import type { ReportingSettings } from '#common/worker-config.js';
import type { RunnerMetrics } from '../runner/metrics.js';
import { OfflineSpool } from '../spool/index.js';
import { AgentReporter } from './agent-reporter.js';
import { EventBridgeSender } from './event-bridge-sender.js';

/**
 * An EventBridge client for the agent: the SDK's default credential chain (SigV4) and
 * region unless the config names one; `AWS_ENDPOINT_URL_EVENTBRIDGE` points it elsewhere
 * (the local stack's bus). Short timeouts and few attempts: an unreachable bus must cost
 * the run seconds, not minutes — the spool keeps what was not delivered.
 */
export function createAgentEventBridgeClient(
  settings: ReportingSettings,
  /** For tests: an explicit endpoint and credentials instead of the environment's. */
  overrides: Pick<EventBridgeClientConfig, 'endpoint' | 'credentials'> = {},
): EventBridgeClient {
  return new EventBridgeClient({
    ...overrides,
    ...(settings.region === undefined ? {} : { region: settings.region }),
    maxAttempts: settings.maxAttempts,
    requestHandler: {
      connectionTimeout: settings.requestTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      // Without it the SDK only logs a warning and keeps waiting on a silent bus.
      throwOnRequestTimeout: true,
    },
  });
}

/**
 * The reporter of one agent process: an EventBridge sender for `busName` and the offline spool
 * in `spoolDirectory` (relative to `cwd`), its counters shown by `metrics`.
 */
export function createAgentReporter(options: {
  readonly settings: ReportingSettings;
  readonly busName: string;
  readonly spoolDirectory: string;
  readonly cwd?: string;
  readonly log: (line: string) => void;
  readonly metrics?: RunnerMetrics;
}): { readonly reporter: AgentReporter; readonly spool: OfflineSpool; readonly client: EventBridgeClient } {
  const client = createAgentEventBridgeClient(options.settings);
  const spool = new OfflineSpool({
    directory: resolve(options.cwd ?? process.cwd(), options.spoolDirectory),
    maxBytes: options.settings.spoolMaxBytes,
  });
  options.metrics?.watchSpool(spool);
  const reporter = new AgentReporter({
    sender: new EventBridgeSender({ client, busName: options.busName }),
    spool,
    replayIntervalMs: options.settings.replayIntervalMs,
    log: options.log,
    record:
      options.metrics === undefined
        ? undefined
        : (result, count) => options.metrics?.recordReport(result, count),
  });
  return { reporter, spool, client };
}
