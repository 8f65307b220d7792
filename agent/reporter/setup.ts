import { resolve } from 'node:path';
import type {
  EventBridgeClient,
  EventBridgeClientConfig,
  PutEventsCommand,
  PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import type { ReportingSettings } from '#common/event-reporting.js';
import type { RunnerMetrics } from '../runner/metrics.js';
import { OfflineSpool } from '../spool/index.js';
import { AgentReporter } from './agent-reporter.js';
import { EventBridgeSender, type PutEventsClient } from './event-bridge-sender.js';

/**
 * An EventBridge client that loads the AWS SDK and creates the SDK client on its first send, so
 * an agent that has nothing to report (an idle `runlane-agent run`, reporting off) never loads
 * it: the SDK is most of the agent's memory (issue 18, `npm run bench`).
 */
export class LazyEventBridgeClient implements PutEventsClient {
  #client: Promise<EventBridgeClient> | undefined;
  #created: EventBridgeClient | undefined;
  #destroyed = false;

  public constructor(private readonly config: EventBridgeClientConfig) {}

  /** The SDK client, created on the first call. */
  public client(): Promise<EventBridgeClient> {
    this.#client ??= import('@aws-sdk/client-eventbridge').then(({ EventBridgeClient }) => {
      const client = new EventBridgeClient(this.config);
      this.#created = client;
      if (this.#destroyed) client.destroy();
      return client;
    });
    return this.#client;
  }

  public async send(command: PutEventsCommand): Promise<PutEventsCommandOutput> {
    return (await this.client()).send(command);
  }

  /** Closes the SDK client's connections, if it was ever created. */
  public destroy(): void {
    this.#destroyed = true;
    this.#created?.destroy();
  }
}

/**
 * An EventBridge client for the agent: the SDK's default credential chain (SigV4) and
 * region unless the config names one; `AWS_ENDPOINT_URL_EVENTBRIDGE` points it elsewhere
 * (the local stack's bus). Short timeouts and few attempts: an unreachable bus must cost
 * the run seconds, not minutes — the spool keeps what was not delivered. The SDK is loaded on
 * the first send ({@link LazyEventBridgeClient}).
 */
export function createAgentEventBridgeClient(
  settings: ReportingSettings,
  /** For tests: an explicit endpoint and credentials instead of the environment's. */
  overrides: Pick<EventBridgeClientConfig, 'endpoint' | 'credentials'> = {},
): LazyEventBridgeClient {
  return new LazyEventBridgeClient({
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
}): {
  readonly reporter: AgentReporter;
  readonly spool: OfflineSpool;
  readonly client: LazyEventBridgeClient;
} {
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
