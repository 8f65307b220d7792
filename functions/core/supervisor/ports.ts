import type { SupervisorChildEvent, SupervisorHealthEvent } from '#contracts/agent-events.js';
import type { RunnerEventPutResult } from '../runner/ports.js';

/**
 * What storing a supervisor health report did: `stored` when it is now the
 * host's latest; `stale` when the host already has a report at least as new
 * (a late spool replay: it is not kept, yet it describes its own moment);
 * `duplicate` when the latest report is this very event (a resend).
 */
export type SupervisorHealthPutResult = 'stored' | 'stale' | 'duplicate';

/**
 * Supervisor events of `runlane-agent supervise`: the latest health report per
 * host, and a history of child events (exits, restarts, quarantines…).
 *
 * @example
 * await store.putHealth(health); // 'stored' | 'stale' | 'duplicate'
 * const hosts = await store.listSupervisorHealth('prod');
 * const children = await store.listSupervisorChildEvents({ environment: 'prod', from, to });
 */
export interface SupervisorEventStore {
  /** Keeps the report as its host's latest, only if its `ts` is newer than the stored one's. */
  putHealth(event: SupervisorHealthEvent): Promise<SupervisorHealthPutResult>;
  /** Appends a child event once; a resend (same id and ts) is a `duplicate`. */
  putChildEvent(event: SupervisorChildEvent): Promise<RunnerEventPutResult>;
  /** Every host's latest health report in the environment, sorted by host. */
  listSupervisorHealth(environment: string): Promise<SupervisorHealthEvent[]>;
  /** Child events with `from <= ts < to`, of one environment, sorted by `ts`. */
  listSupervisorChildEvents(query: {
    readonly environment: string;
    readonly from: Date;
    readonly to: Date;
  }): Promise<SupervisorChildEvent[]>;
}
