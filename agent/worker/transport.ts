import type { AgentBusEvent } from '#contracts/agent-events.js';
import {
  WORKER_DETAIL_TYPES,
  type WorkerHeartbeatEvent,
  type WorkerResultEnvelope,
} from '#contracts/worker-contract.js';
import type { SendResult } from '../reporter/event-bridge-sender.js';
import type { SubmitResult, WorkerApiClient } from './api-client.js';

/**
 * How a worker hands results and heartbeats to the control plane. `acknowledged` is the only
 * success; `refused` means "never" (kept aside, not retried); `failed` means "not now" (spooled).
 */
export interface WorkerTransport {
  /** For logs: `api <url>` or `bus <name>`. */
  readonly description: string;
  sendResult(envelope: WorkerResultEnvelope): Promise<SubmitResult>;
  sendHeartbeat(event: WorkerHeartbeatEvent): Promise<SubmitResult>;
}

/** `transport: api`: `POST /api/workers/sites/<site>/results` and `/api/workers/sites/<site>/heartbeats`. */
export class ApiWorkerTransport implements WorkerTransport {
  public readonly description: string;

  public constructor(
    private readonly api: WorkerApiClient,
    baseUrl: string,
  ) {
    this.description = `api ${baseUrl}`;
  }

  public sendResult(envelope: WorkerResultEnvelope): Promise<SubmitResult> {
    return this.api.submitResult(envelope);
  }

  public sendHeartbeat(event: WorkerHeartbeatEvent): Promise<SubmitResult> {
    return this.api.sendHeartbeat(event);
  }
}

/** What the bus transport needs from `EventBridgeSender` (agent/reporter). */
export interface BusSender {
  readonly busName: string;
  send(events: readonly AgentBusEvent[]): Promise<SendResult>;
}

/**
 * `transport: bus`: PutEvents to the telemetry bus through the agent's `EventBridgeSender`
 * (source `runlane.agent`, detail types `WorkerResult` / `WorkerHeartbeat`). Only an entry that
 * came back with an EventId is acknowledged; the bus never refuses for good.
 */
export class BusWorkerTransport implements WorkerTransport {
  public readonly description: string;

  public constructor(private readonly sender: BusSender) {
    this.description = `bus ${sender.busName}`;
  }

  public sendResult(envelope: WorkerResultEnvelope): Promise<SubmitResult> {
    return this.put({ detailType: WORKER_DETAIL_TYPES.result, detail: envelope });
  }

  public sendHeartbeat(event: WorkerHeartbeatEvent): Promise<SubmitResult> {
    return this.put({ detailType: WORKER_DETAIL_TYPES.heartbeat, detail: event });
  }

  private async put(event: AgentBusEvent): Promise<SubmitResult> {
    const { deliveredIds, undelivered } = await this.sender.send([event]);
    if (deliveredIds.includes(event.detail.id)) return { outcome: 'acknowledged', duplicate: false };
    return { outcome: 'failed', reason: undelivered[0]?.reason ?? 'no event id returned' };
  }
}
