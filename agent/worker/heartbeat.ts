import { randomUUID } from 'node:crypto';
import {
  WORKER_TASK_KINDS,
  type WorkerHeartbeatEvent,
  type WorkerTaskKind,
  workerHeartbeatEventSchema,
} from '#contracts/worker-contract.js';
import type { WorkerConfig } from './config.js';
import type { WorkerLog } from './log.js';
import type { WorkerTransport } from './transport.js';

/** What this worker can be asked to do: kinds, allowlisted script names, enabled plugin names. */
export function workerCapabilities(config: WorkerConfig): WorkerHeartbeatEvent['capabilities'] {
  const scripts = Object.keys(config.scripts).sort();
  const plugins = [...config.enabledPlugins.keys()].sort();
  const kinds = WORKER_TASK_KINDS.filter(
    (kind: WorkerTaskKind) =>
      kind === 'collect_facts' ||
      (kind === 'execute_script' && scripts.length > 0) ||
      (kind === 'execute_action' && plugins.length > 0),
  );
  return { kinds, scripts, plugins };
}

export interface HeartbeatLoopOptions {
  readonly config: WorkerConfig;
  readonly transport: WorkerTransport;
  readonly log: WorkerLog;
  readonly host: string;
  readonly version: string;
  /** Result envelopes waiting in the spool now. */
  readonly backlog: () => { readonly files: number; readonly bytes: number };
  /** Tasks executing now. */
  readonly executing: () => number;
}

/** How long a graceful shutdown waits for its `deregistration` to be acknowledged. */
export const DEREGISTRATION_TIMEOUT_MS = 5_000;

/**
 * Registration, then a heartbeat every `heartbeatIntervalMs`; on a graceful shutdown, one
 * `deregistration` ({@link HeartbeatLoop.deregister}). A `registration` is sent until
 * one is acknowledged. A heartbeat that cannot be sent is counted and logged, never spooled:
 * a stale heartbeat is worthless. The timer does not keep the process alive.
 *
 * @example
 * const heartbeats = new HeartbeatLoop({ config, transport, log, host, version, backlog, executing }).start();
 * await heartbeats.stop();
 */
export class HeartbeatLoop {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private registered = false;
  private stopped = false;
  /** Heartbeats (and registrations) acknowledged / not. */
  public readonly counts = { sent: 0, failed: 0 };

  public constructor(private readonly options: HeartbeatLoopOptions) {}

  /** Sends the registration now and schedules the heartbeats. */
  public start(): this {
    if (this.timer !== undefined || this.stopped) return this;
    this.beat();
    this.timer = setInterval(() => this.beat(), this.options.config.heartbeatIntervalMs);
    this.timer.unref();
    return this;
  }

  /** The event a beat would send now. */
  public event(kind: WorkerHeartbeatEvent['kind']): WorkerHeartbeatEvent {
    const { config } = this.options;
    return workerHeartbeatEventSchema.parse({
      id: randomUUID(),
      ts: new Date().toISOString(),
      host: this.options.host,
      environment: config.environment,
      kind,
      worker_id: config.workerId,
      site: config.site,
      version: this.options.version,
      capabilities: workerCapabilities(config),
      interval_ms: config.heartbeatIntervalMs,
      offline_backlog: this.options.backlog(),
      executing: this.options.executing(),
    });
  }

  /** Stops the timer and waits for a beat in flight. */
  public async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /**
   * After {@link stop}: sends one `deregistration` (the control plane then shows the worker
   * `stopped`, not `offline`), waiting at most `timeoutMs`. A failure or timeout is logged
   * (`deregistration_failed`), never thrown; true when acknowledged.
   */
  public async deregister(timeoutMs: number = DEREGISTRATION_TIMEOUT_MS): Promise<boolean> {
    const event = this.event('deregistration');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<{ outcome: 'failed'; reason: string }>((resolve) => {
      timer = setTimeout(
        () => resolve({ outcome: 'failed', reason: `no answer within ${timeoutMs} ms` }),
        timeoutMs,
      );
    });
    const result = await Promise.race([
      this.options.transport.sendHeartbeat(event).catch((error: unknown) => ({
        outcome: 'failed' as const,
        reason: String(error),
      })),
      timeout,
    ]).finally(() => clearTimeout(timer));
    if (result.outcome === 'acknowledged') {
      this.counts.sent++;
      this.options.log.event('worker_deregistered', { via: this.options.transport.description });
      return true;
    }
    this.counts.failed++;
    this.options.log.event('deregistration_failed', {
      reason: result.outcome === 'refused' ? `${result.status} ${result.errorCode}` : result.reason,
    });
    return false;
  }

  private beat(): void {
    if (this.inFlight !== undefined) return; // the previous one is still waiting for its answer
    this.inFlight = this.send().finally(() => {
      this.inFlight = undefined;
    });
  }

  private async send(): Promise<void> {
    const event = this.event(this.registered ? 'heartbeat' : 'registration');
    const result = await this.options.transport.sendHeartbeat(event).catch((error: unknown) => ({
      outcome: 'failed' as const,
      reason: String(error),
    }));
    const fields = {
      heartbeat_kind: event.kind,
      backlog_files: event.offline_backlog.files,
      backlog_bytes: event.offline_backlog.bytes,
      executing: event.executing,
    };
    if (result.outcome === 'acknowledged') {
      this.counts.sent++;
      if (!this.registered)
        this.options.log.event('worker_registered', { ...fields, via: this.options.transport.description });
      this.registered = true;
      return;
    }
    this.counts.failed++;
    this.options.log.event('heartbeat_failed', {
      ...fields,
      reason: result.outcome === 'refused' ? `${result.status} ${result.errorCode}` : result.reason,
      failed_total: this.counts.failed,
    });
  }
}
