import { randomUUID } from 'node:crypto';
import type {
  WorkerHeartbeatEvent,
  WorkerResultEnvelope,
  WorkerTaskMessage,
} from '#contracts/worker-contract.js';
import { resultIdempotencyKey } from '#contracts/worker-contract.js';
import type {
  ClaimOutcome,
  DelegationFlagStore,
  RecordResultOutcome,
  WorkerRegistry,
  WorkerRegistryEntry,
  WorkerTaskQueue,
  WorkerTaskRecord,
  WorkerTaskStore,
} from '#core/workers/ports.js';
import { finishTask, reconcileRefusal } from '#core/workers/reconcile.js';

/** Factories and in-memory ports for the worker delegation tests (seed 004). */

export const WORKER_ENV_NAME = 'test';

export function aTaskMessage(overrides: Partial<WorkerTaskMessage> = {}): WorkerTaskMessage {
  return {
    schemaVersion: 1,
    taskId: randomUUID(),
    attempt: 1,
    environment: WORKER_ENV_NAME,
    site: 'lab',
    input: { kind: 'collect_facts' },
    commandId: randomUUID(),
    correlationId: 'agent:hh-1:conv-1:x',
    householdId: 'hh-1',
    approvalId: 'apr-000000000000000000000001',
    queuedAt: '2026-01-01T00:00:00.000Z',
    timeoutMs: 300_000,
    ...overrides,
  };
}

export function aHeartbeat(overrides: Partial<WorkerHeartbeatEvent> = {}): WorkerHeartbeatEvent {
  return {
    id: randomUUID(),
    ts: '2026-01-01T00:00:00.000Z',
    host: 'host-1',
    environment: WORKER_ENV_NAME,
    kind: 'heartbeat',
    worker_id: 'worker-1',
    site: 'lab',
    version: '1.0.0',
    capabilities: { kinds: ['collect_facts', 'execute_script'], scripts: ['disk-report'], plugins: [] },
    interval_ms: 30_000,
    offline_backlog: { files: 0, bytes: 0 },
    executing: 0,
    ...overrides,
  };
}

type ExecutionResult = Extract<WorkerResultEnvelope, { payload_type: 'execution_result' }>;

/** An `execution_result` for a task; `status` succeeded unless the payload says otherwise. */
export function anExecutionResult(
  task: { readonly taskId: string; readonly attempt?: number; readonly site?: string },
  overrides: Partial<Omit<ExecutionResult, 'payload'>> & {
    payload?: Partial<ExecutionResult['payload']>;
  } = {},
): ExecutionResult {
  const { payload, ...rest } = overrides;
  return {
    schemaVersion: 1,
    id: randomUUID(),
    environment: WORKER_ENV_NAME,
    worker_id: 'worker-1',
    site: task.site ?? 'lab',
    ts: '2026-01-01T00:00:05.000Z',
    task_id: task.taskId,
    attempt: task.attempt ?? 1,
    payload_type: 'execution_result',
    payload: { status: 'succeeded', durationMs: 120, output: { hostname: 'host-1' }, ...payload },
    ...rest,
  };
}

export function aLogsEnvelope(
  task: { readonly taskId: string },
  lines: string[] = ['line 1'],
): WorkerResultEnvelope {
  return {
    schemaVersion: 1,
    id: randomUUID(),
    environment: WORKER_ENV_NAME,
    worker_id: 'worker-1',
    site: 'lab',
    ts: '2026-01-01T00:00:04.000Z',
    task_id: task.taskId,
    attempt: 1,
    payload_type: 'logs',
    payload: { lines },
  };
}

export function aRegistryEntry(overrides: Partial<WorkerRegistryEntry> = {}): WorkerRegistryEntry {
  return {
    workerId: 'worker-1',
    site: 'lab',
    host: 'host-1',
    version: '1.0.0',
    capabilities: { kinds: ['collect_facts'], scripts: [], plugins: [] },
    intervalMs: 30_000,
    lastSeen: '2026-01-01T00:00:00.000Z',
    registeredAt: '2026-01-01T00:00:00.000Z',
    offlineBacklog: { files: 0, bytes: 0 },
    executing: 0,
    ...overrides,
  };
}

/** A task store in memory, with the adapter's claim and result rules (no run reconcile). */
export class InMemoryWorkerTaskStore implements WorkerTaskStore {
  public readonly tasks = new Map<string, WorkerTaskRecord>();
  public readonly results = new Map<string, WorkerResultEnvelope>();
  public creates = 0;

  public async createQueued(
    message: WorkerTaskMessage,
    _now?: Date,
    options: { readonly deadlineAt?: string } = {},
  ): Promise<WorkerTaskRecord> {
    const existing = this.tasks.get(message.taskId);
    if (existing) return existing;
    this.creates += 1;
    const record: WorkerTaskRecord = {
      taskId: message.taskId,
      attempt: message.attempt,
      site: message.site,
      status: 'queued',
      message,
      queuedAt: message.queuedAt,
      ...(options.deadlineAt !== undefined ? { deadlineAt: options.deadlineAt } : {}),
    };
    this.tasks.set(message.taskId, record);
    return record;
  }

  public async claim(input: {
    taskId: string;
    workerId: string;
    site: string;
    now: Date;
  }): Promise<ClaimOutcome> {
    const task = this.tasks.get(input.taskId);
    if (!task) return { outcome: 'not_found' };
    if (task.site !== input.site) return { outcome: 'wrong_site', site: task.site };
    if (task.status !== 'queued')
      return { outcome: 'already_claimed', claimedBy: task.claimedBy, status: task.status };
    const claimed = {
      ...task,
      status: 'executing' as const,
      claimedBy: input.workerId,
      claimedAt: input.now.toISOString(),
    };
    this.tasks.set(task.taskId, claimed);
    return { outcome: 'claimed', task: claimed };
  }

  public async recordResult(envelope: WorkerResultEnvelope, now: Date): Promise<RecordResultOutcome> {
    const key = resultIdempotencyKey(envelope);
    const task = envelope.task_id === undefined ? undefined : this.tasks.get(envelope.task_id);
    if (envelope.task_id !== undefined && !task) return { outcome: 'unknown_task' };
    if (this.results.has(key)) return { outcome: 'duplicate' };
    this.results.set(key, envelope);
    if (
      task &&
      envelope.payload_type === 'execution_result' &&
      reconcileRefusal(task, envelope) === undefined
    ) {
      const finished = finishTask(task, envelope, now);
      this.tasks.set(task.taskId, finished);
      return { outcome: 'recorded', task: finished, reconciled: true };
    }
    return { outcome: 'recorded', ...(task ? { task } : {}), reconciled: false };
  }

  public async get(taskId: string): Promise<WorkerTaskRecord | undefined> {
    return this.tasks.get(taskId);
  }

  public async listByStatus(status: WorkerTaskRecord['status'], limit = 100): Promise<WorkerTaskRecord[]> {
    return [...this.tasks.values()]
      .filter((task) => task.status === status)
      .sort((a, b) => b.queuedAt.localeCompare(a.queuedAt))
      .slice(0, limit);
  }

  public async countByStatus(status: WorkerTaskRecord['status']): Promise<number> {
    return (await this.listByStatus(status, Number.MAX_SAFE_INTEGER)).length;
  }

  public async listResultKeys(taskId: string): Promise<string[]> {
    return [...this.results.keys()].filter((key) => key.startsWith(`${taskId}#`));
  }
}

export class InMemoryWorkerRegistry implements WorkerRegistry {
  public readonly entries = new Map<string, WorkerRegistryEntry>();

  public constructor(entries: readonly WorkerRegistryEntry[] = []) {
    for (const entry of entries) this.entries.set(entry.workerId, entry);
  }

  public async recordHeartbeat(event: WorkerHeartbeatEvent): Promise<void> {
    const existing = this.entries.get(event.worker_id);
    if (existing && Date.parse(existing.lastSeen) >= Date.parse(event.ts)) return;
    this.entries.set(event.worker_id, {
      workerId: event.worker_id,
      site: event.site,
      host: event.host,
      version: event.version,
      capabilities: event.capabilities,
      intervalMs: event.interval_ms,
      lastSeen: event.ts,
      registeredAt: existing?.registeredAt ?? event.ts,
      offlineBacklog: event.offline_backlog,
      executing: event.executing,
      lastKind: event.kind,
      ...(event.kind === 'deregistration' ? { stoppedAt: event.ts } : {}),
    });
  }

  public async list(): Promise<WorkerRegistryEntry[]> {
    return [...this.entries.values()];
  }
}

export class InMemoryWorkerTaskQueue implements WorkerTaskQueue {
  public readonly sent: WorkerTaskMessage[] = [];
  public async send(message: WorkerTaskMessage): Promise<void> {
    this.sent.push(message);
  }
  public async depth() {
    const bySite: Record<string, { visible: number; inFlight: number }> = {};
    for (const message of this.sent) {
      const site = bySite[message.site] ?? { visible: 0, inFlight: 0 };
      bySite[message.site] = { ...site, visible: site.visible + 1 };
    }
    return bySite;
  }
}

export class InMemoryDelegationFlag implements DelegationFlagStore {
  public state: { enabled: boolean; changedAt?: string; changedBy?: string };
  public reads = 0;
  public constructor(enabled: boolean) {
    this.state = { enabled };
  }
  public async get() {
    this.reads += 1;
    return this.state;
  }
  public async set(input: { enabled: boolean; changedBy: string; now: Date }): Promise<void> {
    this.state = { enabled: input.enabled, changedBy: input.changedBy, changedAt: input.now.toISOString() };
  }
}
