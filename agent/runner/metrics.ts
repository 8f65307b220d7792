import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type RunOutcome, STALL_ROOT_CAUSES, type StallRootCause } from '#contracts/agent-event-names.js';

/** Metric names, declared once (the runbook and alarms read the same names). */
export const RUNNER_METRICS = {
  stalls: 'runlane_runner_stalls_total',
  runs: 'runlane_runner_runs_total',
  duration: 'runlane_runner_run_duration_seconds',
  reportedEvents: 'runlane_agent_events_total',
  spoolFiles: 'runlane_agent_spool_files',
  spoolEvictions: 'runlane_agent_spool_evictions_total',
  spoolQuarantined: 'runlane_agent_spool_quarantined_total',
} as const;

/** What became of an agent event sent to the bus: `delivered` (also from the spool), `spooled`, `lost` (could not even be spooled). */
export type ReportResult = 'delivered' | 'spooled' | 'lost';

/** What the reporting metrics read from the spool. */
export interface SpoolStatsSource {
  stats(): { readonly files: number; readonly evicted: number; readonly quarantined: number };
}

/** How a run ended, the `outcome` label of {@link RUNNER_METRICS.runs}. */
export type { RunOutcome };

export interface RunLabels {
  readonly environment: string;
  readonly host: string;
  readonly commandType: string;
}

/**
 * The agent's Prometheus metrics in a registry of their own (never prom-client's
 * global one). Stall counters for every root cause of the run's labels start at 0,
 * so `rate()` has a series before the first stall.
 *
 * @example
 * const metrics = new RunnerMetrics({ environment: 'dev', host, commandType: 'build' });
 * metrics.recordStall('network');
 * await metrics.text(); // Prometheus exposition format
 */
export class RunnerMetrics {
  public readonly registry = new Registry();
  private readonly stalls: Counter<'environment' | 'host' | 'command_type' | 'root_cause'>;
  private readonly runs: Counter<'environment' | 'host' | 'command_type' | 'outcome'>;
  private readonly duration: Histogram<'environment' | 'host' | 'command_type' | 'outcome'>;
  private readonly base: { environment: string; host: string; command_type: string };
  private readonly reported: Counter<'environment' | 'host' | 'result'>;
  private spool: SpoolStatsSource | undefined;

  public constructor(labels: RunLabels) {
    this.base = { environment: labels.environment, host: labels.host, command_type: labels.commandType };
    this.stalls = new Counter({
      name: RUNNER_METRICS.stalls,
      help: 'Commands stopped by the watchdog (idle or hard timeout), by root cause.',
      labelNames: ['environment', 'host', 'command_type', 'root_cause'],
      registers: [this.registry],
    });
    this.runs = new Counter({
      name: RUNNER_METRICS.runs,
      help: 'Commands run under the watchdog, by outcome.',
      labelNames: ['environment', 'host', 'command_type', 'outcome'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: RUNNER_METRICS.duration,
      help: 'Wall time of commands run under the watchdog, in seconds.',
      labelNames: ['environment', 'host', 'command_type', 'outcome'],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 120, 300, 900],
      registers: [this.registry],
    });
    for (const rootCause of STALL_ROOT_CAUSES) this.stalls.inc({ ...this.base, root_cause: rootCause }, 0);
    this.reported = new Counter({
      name: RUNNER_METRICS.reportedEvents,
      help: 'Agent events (stalls, run summaries) sent to the telemetry bus, by result.',
      labelNames: ['environment', 'host', 'result'],
      registers: [this.registry],
    });
    const spoolGauge = (
      name: string,
      help: string,
      read: (stats: ReturnType<SpoolStatsSource['stats']>) => number,
    ) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect: () => {
          const gauge = this.registry.getSingleMetric(name) as Gauge | undefined;
          if (this.spool !== undefined) gauge?.set(read(this.spool.stats()));
        },
      });
    spoolGauge(RUNNER_METRICS.spoolFiles, 'Events waiting in the offline spool.', (stats) => stats.files);
    spoolGauge(
      RUNNER_METRICS.spoolEvictions,
      'Spooled events evicted (oldest first) to stay under the spool size bound, since the agent started.',
      (stats) => stats.evicted,
    );
    spoolGauge(
      RUNNER_METRICS.spoolQuarantined,
      'Spool files that failed their checksum and were quarantined, since the agent started.',
      (stats) => stats.quarantined,
    );
  }

  /** Counts `count` events with `result`. */
  public recordReport(result: ReportResult, count = 1): void {
    if (count > 0)
      this.reported.inc({ environment: this.base.environment, host: this.base.host, result }, count);
  }

  /** The spool whose size and counters the spool gauges show. */
  public watchSpool(spool: SpoolStatsSource): void {
    this.spool = spool;
  }

  public recordStall(rootCause: StallRootCause): void {
    this.stalls.inc({ ...this.base, root_cause: rootCause });
  }

  public recordRun(outcome: RunOutcome, durationMs: number): void {
    this.runs.inc({ ...this.base, outcome });
    this.duration.observe({ ...this.base, outcome }, durationMs / 1000);
  }

  /** The exposition text `/metrics` serves. */
  public text(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * Serves a registry as Prometheus text on `GET /metrics`, bound to 127.0.0.1 only.
 *
 * @example
 * const server = await MetricsServer.listen(metrics.registry, 4001); // 0 picks a free port
 * await server.close();
 */
export class MetricsServer {
  private constructor(
    private readonly server: Server,
    public readonly port: number,
  ) {}

  public static listen(registry: Registry, port: number, host = '127.0.0.1'): Promise<MetricsServer> {
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      registry.metrics().then(
        (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
        () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.unref(); // never keeps the agent alive on its own
        resolve(new MetricsServer(server, (server.address() as AddressInfo).port));
      });
    });
  }

  public close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
