import type { AgentBusEvent } from '#contracts/agent-events.js';
import type { ReportResult } from '../runner/metrics.js';
import { type OfflineSpool, type ReplayLoop, type ReplayResult, SpoolWriteError } from '../spool/index.js';
import type { SpoolEntry } from '../spool/types.js';
import type { SendResult } from './event-bridge-sender.js';

/** The spool's view of agent events, loaded when an event is spooled or replayed (see bus-events.ts). */
const busEvents = () => import('./bus-events.js');

export interface AgentReporterOptions {
  readonly sender: { readonly busName: string; send(events: readonly AgentBusEvent[]): Promise<SendResult> };
  readonly spool: OfflineSpool;
  /** Pause between background replay rounds. */
  readonly replayIntervalMs: number;
  readonly log: (line: string) => void;
  /** Counts what became of each event (delivered, spooled, lost). */
  readonly record?: (result: ReportResult, count: number) => void;
}

/** What `report` did with a set of new events. */
export interface ReportOutcome {
  readonly delivered: number;
  readonly spooled: number;
  /** Neither delivered nor spooled (the spool disk is full or failing). */
  readonly lost: number;
}

/**
 * The agent's way to the control plane: new events go to the bus; whatever the bus did
 * not acknowledge goes to the offline spool, which a background loop replays newest
 * first and deletes only what the bus acknowledged. Reporting never throws and never
 * changes the outcome of the command being run.
 *
 * @example
 * const reporter = new AgentReporter({ sender, spool, replayIntervalMs: 5_000, log });
 * reporter.start();
 * await reporter.report([{ detailType: 'RunnerRunSummary', detail: summary }]);
 * await reporter.close();
 */
export class AgentReporter {
  private loop: ReplayLoop | undefined;
  private lastDeliveredAtMs: number | undefined;

  public constructor(private readonly options: AgentReporterOptions) {}

  /** Starts the background replay of earlier spooled events. */
  public start(): this {
    this.loop ??= this.options.spool.startReplayLoop({
      intervalMs: this.options.replayIntervalMs,
      deliver: (entries) => this.deliverSpooled(entries),
      onRound: (result) => this.logRound(result),
      onError: (error) => this.options.log(`spool replay failed: ${(error as Error).message}`),
    });
    return this;
  }

  /** Sends new events; the ones the bus did not acknowledge are spooled. */
  public async report(events: readonly AgentBusEvent[]): Promise<ReportOutcome> {
    if (events.length === 0) return { delivered: 0, spooled: 0, lost: 0 };
    const { deliveredIds, undelivered } = await this.options.sender.send(events);
    this.noteDelivered(deliveredIds.length);
    let spooled = 0;
    let lost = 0;
    const byId = new Map(events.map((event) => [event.detail.id, event]));
    for (const { id, reason } of undelivered) {
      const event = byId.get(id);
      if (event === undefined) continue;
      try {
        const { SPOOL_PAYLOAD_TYPES } = await busEvents();
        await this.options.spool.write({
          payloadType: SPOOL_PAYLOAD_TYPES[event.detailType],
          id,
          body: event,
        });
        spooled++;
        this.options.log(
          `${event.detailType} ${id} not delivered to ${this.options.sender.busName} (${reason}); spooled`,
        );
      } catch (error) {
        // Disk full (SpoolDiskFullError), I/O error, an unusable spool folder: report, never crash.
        lost++;
        const detail = error instanceof SpoolWriteError ? `${error.name}: ${error.message}` : String(error);
        this.options.log(
          `${event.detailType} ${id} not delivered (${reason}) and not spooled (${detail}); it stays in the evidence files only`,
        );
      }
    }
    this.options.record?.('spooled', spooled);
    this.options.record?.('lost', lost);
    if (deliveredIds.length > 0) this.loop?.wake(); // the bus answers again: replay what waits
    return { delivered: deliveredIds.length, spooled, lost };
  }

  /**
   * Replays the spool until it is empty or a round delivers nothing (the bus still refuses);
   * rounds run newest first. Resolves with the number of events delivered.
   */
  public async flush(): Promise<{
    readonly delivered: number;
    readonly remaining: number;
    readonly quarantined: number;
  }> {
    let delivered = 0;
    let quarantined = 0;
    for (;;) {
      const round = await this.options.spool.replay((entries) => this.deliverSpooled(entries));
      this.logRound(round);
      delivered += round.delivered;
      quarantined += round.quarantined;
      if (round.remaining === 0 || round.delivered === 0)
        return { delivered, remaining: round.remaining, quarantined };
    }
  }

  /** When the bus last acknowledged an event (new or spooled), epoch ms; undefined before the first. */
  public get lastDeliveredAt(): number | undefined {
    return this.lastDeliveredAtMs;
  }

  /**
   * Seed 001's `dashboard_link`: `connected` when the bus acknowledged an event within the
   * last `windowMs`, else `disconnected`.
   */
  public dashboardLink(windowMs: number, now: number = Date.now()): 'connected' | 'disconnected' {
    return this.lastDeliveredAtMs !== undefined && now - this.lastDeliveredAtMs <= windowMs
      ? 'connected'
      : 'disconnected';
  }

  /** Stops the background loop (waiting for a round in flight). */
  public async close(): Promise<void> {
    await this.loop?.stop();
  }

  private async deliverSpooled(entries: readonly SpoolEntry[]): Promise<{ deliveredIds: readonly string[] }> {
    const { toBusEvent } = await busEvents();
    const events: AgentBusEvent[] = [];
    for (const entry of entries) {
      const event = toBusEvent(entry.body);
      if (event === undefined) {
        // Verified by its checksum, yet not an event this agent knows (another version's?): keep it for a person.
        this.options.log(`spooled ${entry.fileName} is not an agent event; left in the spool`);
        continue;
      }
      events.push(event);
    }
    if (events.length === 0) return { deliveredIds: [] };
    const { deliveredIds } = await this.options.sender.send(events);
    this.noteDelivered(deliveredIds.length);
    return { deliveredIds };
  }

  private noteDelivered(count: number): void {
    this.options.record?.('delivered', count);
    if (count > 0) this.lastDeliveredAtMs = Date.now();
  }

  private logRound(result: ReplayResult): void {
    if (result.delivered > 0 || result.quarantined > 0) {
      this.options.log(
        `spool replay: ${result.delivered} of ${result.attempted} delivered, ${result.quarantined} quarantined, ${result.remaining} waiting`,
      );
    }
  }
}
