/**
 * Fixtures of the supervisor side of the agent event ingest: valid
 * `SupervisorHealth` / `SupervisorChild` events, their bus events, and an
 * in-memory `SupervisorEventStore` keyed like the DynamoDB one.
 */
import { randomUUID } from 'node:crypto';
import type { EventBridgeEvent } from 'aws-lambda';
import {
  SUPERVISOR_DETAIL_TYPES,
  type SupervisorChildEvent,
  type SupervisorHealthEvent,
} from '#contracts/agent-events.js';
import type { SupervisorEventStore, SupervisorHealthPutResult } from '#core/supervisor/ports.js';
import { aBusEvent } from './runner-event-ingest-fixtures.js';

/** A valid, healthy report (connected, nothing quarantined); override any field. */
export function aHealthEvent(overrides: Partial<SupervisorHealthEvent> = {}): SupervisorHealthEvent {
  return {
    id: randomUUID(),
    ts: new Date().toISOString(),
    host: 'sup-01',
    environment: 'prod',
    status: 'ready',
    uptimeSecs: 120,
    controlLoopIterations: 480,
    dashboardLink: 'connected',
    children: { running: 3, failed: 0, quarantined: 0, targetCount: 3 },
    ...overrides,
  };
}

/** A valid child exit (TaskExit::Failed, code 1); override any field. */
export function aChildEvent(overrides: Partial<SupervisorChildEvent> = {}): SupervisorChildEvent {
  return {
    id: randomUUID(),
    ts: new Date().toISOString(),
    host: 'sup-01',
    environment: 'prod',
    event: 'exited',
    child: 'crash-loop',
    pid: 5151,
    exit: { kind: 'Failed', code: 1, reason: 'exit status 1' },
    restartCount: 2,
    tokensLeft: 1,
    ...overrides,
  };
}

export function healthBusEvent(event: SupervisorHealthEvent): EventBridgeEvent<string, unknown> {
  return aBusEvent(event, SUPERVISOR_DETAIL_TYPES.health);
}

export function childBusEvent(event: SupervisorChildEvent): EventBridgeEvent<string, unknown> {
  return aBusEvent(event, SUPERVISOR_DETAIL_TYPES.child);
}

/** Latest health per environment + host (newer ts wins), child events by id; can be told to fail. */
export class InMemorySupervisorEventStore implements SupervisorEventStore {
  public readonly latest = new Map<string, SupervisorHealthEvent>();
  public readonly children = new Map<string, SupervisorChildEvent>();
  public failWith: Error | undefined;

  public async putHealth(event: SupervisorHealthEvent): Promise<SupervisorHealthPutResult> {
    if (this.failWith) throw this.failWith;
    const key = `${event.environment}|${event.host}`;
    const stored = this.latest.get(key);
    if (stored && Date.parse(stored.ts) >= Date.parse(event.ts)) {
      return stored.id === event.id ? 'duplicate' : 'stale';
    }
    this.latest.set(key, event);
    return 'stored';
  }

  public async putChildEvent(event: SupervisorChildEvent): Promise<'stored' | 'duplicate'> {
    if (this.failWith) throw this.failWith;
    const key = `${event.environment}|${new Date(event.ts).toISOString()}|${event.id}`;
    if (this.children.has(key)) return 'duplicate';
    this.children.set(key, event);
    return 'stored';
  }

  public async listSupervisorHealth(environment: string): Promise<SupervisorHealthEvent[]> {
    return [...this.latest.values()]
      .filter((e) => e.environment === environment)
      .sort((a, b) => a.host.localeCompare(b.host));
  }

  public async listSupervisorChildEvents(query: {
    environment: string;
    from: Date;
    to: Date;
  }): Promise<SupervisorChildEvent[]> {
    return [...this.children.values()]
      .filter((e) => e.environment === query.environment)
      .filter((e) => Date.parse(e.ts) >= query.from.getTime() && Date.parse(e.ts) < query.to.getTime())
      .sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
  }
}
