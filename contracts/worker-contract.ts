import * as z from 'zod';

/**
 * Worker delegation (seed 004), the contract between the control plane and
 * `runlane-agent worker`: the task message on a site's task lane, the task record's
 * statuses, the result envelope (bus or `POST /api/workers/results`) and the
 * registration / heartbeat. One definition, used by both sides; no AWS imports.
 *
 * Names follow the seed: `payload_type`, `task_id`, `last_seen`, `collect_facts`,
 * `execute_script`, `execute_action`, `WORKER_DELEGATION_ENABLED`, `WORKER_DEFAULT_ID`,
 * `WORKER_SITE_NAME`.
 */

/** Environment variables of the seed's feature flags. */
export const WORKER_ENV = {
  /** Control plane: delegate worker-eligible approved actions. Default `false`. */
  delegationEnabled: 'WORKER_DELEGATION_ENABLED',
  /** Agent: this worker's id when its config names none. */
  defaultId: 'WORKER_DEFAULT_ID',
  /** Agent: this worker's site when its config names none. */
  siteName: 'WORKER_SITE_NAME',
  /** Agent: the site's task lane URL, over the config's `taskQueueUrl`. */
  queueUrl: 'RUNLANE_WORKER_QUEUE_URL',
  /** Agent: the control-plane API base URL, over the config's `apiUrl`. */
  apiUrl: 'RUNLANE_API_URL',
} as const;

/** What a worker can be asked to do. */
export const WORKER_TASK_KINDS = ['collect_facts', 'execute_script', 'execute_action'] as const;
export type WorkerTaskKind = (typeof WORKER_TASK_KINDS)[number];

/**
 * A task record's life: `queued` (record written, message sent) → `executing` (claimed by
 * exactly one worker, conditional on `queued`) → `succeeded` | `failed` (reconciled from the
 * `execution_result`).
 */
export const WORKER_TASK_STATUSES = ['queued', 'executing', 'succeeded', 'failed'] as const;
export type WorkerTaskStatus = (typeof WORKER_TASK_STATUSES)[number];

/** Result envelope payload types; anything else is refused (seed 004 "Replay not clearing"). */
export const WORKER_PAYLOAD_TYPES = ['facts', 'logs', 'execution_result', 'health'] as const;

/** The fixed set of host facts `collect_facts` may return. */
export const WORKER_FACT_NAMES = [
  'hostname',
  'platform',
  'release',
  'arch',
  'cpus',
  'memory_total_bytes',
  'memory_free_bytes',
  'uptime_secs',
  'load_average',
  'node_version',
  'disk_free_bytes',
] as const;
export type WorkerFactName = (typeof WORKER_FACT_NAMES)[number];

/** Site and worker ids: they become queue names and spool file names. */
const SLUG = /^[a-z0-9][a-z0-9-]{0,31}$/;
export const workerSiteSchema = z
  .string()
  .regex(SLUG, 'must be 1-32 of a-z, 0-9, "-" (leading letter or digit)');
export const workerIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 of A-Z, a-z, 0-9, ".", "_", "-"');

/** What each task kind takes. A script or plugin is named, never given: the host's allowlist decides. */
export const workerTaskInputSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('collect_facts'),
      /** Facts wanted. @default all of {@link WORKER_FACT_NAMES} */
      facts: z.array(z.enum(WORKER_FACT_NAMES)).min(1).optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('execute_script'),
      /** A name in the worker's local allowlist (not a path). */
      script: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a script name from the allowlist'),
      args: z.array(z.string().max(1024)).max(32).default([]),
    })
    .strict(),
  z
    .object({
      kind: z.literal('execute_action'),
      /** A plugin registered in the worker. */
      plugin: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a registered plugin name'),
      parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    })
    .strict(),
]);
export type WorkerTaskInput = z.infer<typeof workerTaskInputSchema>;

/**
 * The SQS body on `runlane-<env>-worker-tasks-<site>`: one lane per site, so a worker's
 * credentials reach only its own site's tasks.
 */
export const workerTaskMessageSchema = z
  .object({
    schemaVersion: z.literal(1),
    taskId: z.uuid(),
    /** 1 for the first delegation; a re-delegation of the same task is attempt 2, … */
    attempt: z.number().int().min(1).max(100),
    environment: z.string().min(1),
    site: workerSiteSchema,
    /** Only this worker may claim it. @default any worker of the site */
    workerId: workerIdSchema.optional(),
    input: workerTaskInputSchema,
    /** The command whose approved action this task carries out (its run gets the result). */
    commandId: z.uuid(),
    correlationId: z.string().min(1),
    householdId: z.string().min(1),
    approvalId: z.string().min(1).optional(),
    /** UTC ISO 8601. */
    queuedAt: z.iso.datetime({ offset: true }),
    /** The worker does not start a task after this. */
    timeoutMs: z.number().int().min(1_000).max(3_600_000).default(300_000),
  })
  .strict();
export type WorkerTaskMessage = z.infer<typeof workerTaskMessageSchema>;

/** `execution_result` payload: how the task ended on the host. */
export const executionResultPayloadSchema = z
  .object({
    status: z.enum(['succeeded', 'failed']),
    /** Script exit code (execute_script). */
    exitCode: z.number().int().nullable().optional(),
    /** Why it failed: `script_not_allowed`, `invalid_arguments`, `timeout`, `plugin_not_registered`, `plugin_failed`, `exit_code`, `task_expired`, `wrong_site`. */
    errorCode: z.string().min(1).optional(),
    error: z.string().max(4096).optional(),
    /** Captured output, each capped at the worker's `maxOutputBytes`; `truncated` says so. */
    stdout: z.string().optional(),
    stderr: z.string().optional(),
    truncated: z.boolean().optional(),
    durationMs: z.number().int().nonnegative(),
    /** SHA-256 of the script file that ran (execute_script). */
    scriptSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    /** What the plugin returned (execute_action) or the facts (collect_facts). */
    output: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type ExecutionResultPayload = z.infer<typeof executionResultPayloadSchema>;

const envelopeFields = {
  schemaVersion: z.literal(1),
  /** This envelope's own id (spool files and receivers use it). */
  id: z.uuid(),
  environment: z.string().min(1),
  worker_id: workerIdSchema,
  site: workerSiteSchema,
  /** UTC ISO 8601: when the worker produced it. */
  ts: z.iso.datetime({ offset: true }),
};
const taskFields = { task_id: z.uuid(), attempt: z.number().int().min(1).max(100) };

/**
 * A result envelope. `payload_type` decides `payload`; an envelope with any other
 * payload_type is refused (`unknown_payload_type`) and, on the host, kept in the spool.
 * Submission is idempotent by {@link resultIdempotencyKey} (task id + attempt + payload type).
 */
export const workerResultEnvelopeSchema = z.discriminatedUnion('payload_type', [
  z
    .object({
      ...envelopeFields,
      ...taskFields,
      payload_type: z.literal('execution_result'),
      payload: executionResultPayloadSchema,
    })
    .strict(),
  z
    .object({
      ...envelopeFields,
      ...taskFields,
      payload_type: z.literal('facts'),
      payload: z.record(z.string(), z.unknown()),
    })
    .strict(),
  z
    .object({
      ...envelopeFields,
      ...taskFields,
      payload_type: z.literal('logs'),
      payload: z.object({ lines: z.array(z.string().max(8192)).max(1000) }).strict(),
    })
    .strict(),
  z
    .object({
      ...envelopeFields,
      task_id: z.uuid().optional(),
      attempt: z.number().int().min(1).max(100).optional(),
      payload_type: z.literal('health'),
      payload: z.record(z.string(), z.unknown()),
    })
    .strict(),
]);
export type WorkerResultEnvelope = z.infer<typeof workerResultEnvelopeSchema>;

/**
 * The key that makes a result land once: `<task_id>#<attempt>#<payload_type>` (a health
 * envelope without a task: `health#<id>`).
 *
 * @example
 * resultIdempotencyKey({ task_id: 't', attempt: 1, payload_type: 'execution_result', id: 'e' }); // 't#1#execution_result'
 */
export function resultIdempotencyKey(
  envelope: Pick<WorkerResultEnvelope, 'payload_type' | 'id'> & { task_id?: string; attempt?: number },
): string {
  if (envelope.task_id === undefined) return `${envelope.payload_type}#${envelope.id}`;
  return `${envelope.task_id}#${envelope.attempt ?? 1}#${envelope.payload_type}`;
}

/**
 * What a worker reports about itself: `registration` (on start), `heartbeat` (every
 * `interval_ms`) and `deregistration` (once, on a graceful shutdown: a planned stop).
 */
export const WORKER_HEARTBEAT_KINDS = ['registration', 'heartbeat', 'deregistration'] as const;
export type WorkerHeartbeatKind = (typeof WORKER_HEARTBEAT_KINDS)[number];

/**
 * Registration, heartbeat or deregistration of a worker (bus or `POST /api/workers/heartbeats`).
 * The registry keeps the newest per worker: its kind, `status` and `last_seen`.
 */
export const workerHeartbeatEventSchema = z
  .object({
    id: z.uuid(),
    ts: z.iso.datetime({ offset: true }),
    host: z.string().min(1),
    environment: z.string().min(1),
    kind: z.enum(WORKER_HEARTBEAT_KINDS),
    worker_id: workerIdSchema,
    site: workerSiteSchema,
    version: z.string().min(1).max(64),
    capabilities: z
      .object({
        kinds: z.array(z.enum(WORKER_TASK_KINDS)),
        scripts: z.array(z.string()),
        plugins: z.array(z.string()),
      })
      .strict(),
    interval_ms: z.number().int().min(1_000).max(3_600_000),
    /** Result envelopes waiting in the offline spool (seed: "offline backlog size"). */
    offline_backlog: z
      .object({ files: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() })
      .strict(),
    /** Tasks running now. */
    executing: z.number().int().nonnegative(),
  })
  .strict();
export type WorkerHeartbeatEvent = z.infer<typeof workerHeartbeatEventSchema>;

/** Detail types of the worker's events on the telemetry bus (source `runlane.agent`). */
export const WORKER_DETAIL_TYPES = {
  heartbeat: 'WorkerHeartbeat',
  result: 'WorkerResult',
} as const;

/**
 * A registry entry's state: `online` / `offline` by heartbeat age, `stopped` when the newest
 * report is a `deregistration` (a planned stop, not an incident).
 */
export const WORKER_STATUSES = ['online', 'offline', 'stopped'] as const;
export type WorkerStatus = (typeof WORKER_STATUSES)[number];

/** Heartbeats missed before a worker is `offline`: `last_seen` older than this × `interval_ms`. */
export const DEFAULT_HEARTBEAT_STALE_MULTIPLE = 3;

/**
 * `stopped` when the newest report was a `deregistration` (`lastKind`); otherwise `online`
 * while `last_seen` is at most `staleMultiple × intervalMs` old, else `offline`.
 *
 * @example
 * workerStatus({ lastSeen: '2026-01-01T00:00:00Z', intervalMs: 30_000 }, new Date('2026-01-01T00:01:30Z')); // 'online'
 * workerStatus({ lastSeen: '2026-01-01T00:00:00Z', intervalMs: 30_000, lastKind: 'deregistration' }, now); // 'stopped'
 */
export function workerStatus(
  entry: {
    readonly lastSeen: string;
    readonly intervalMs: number;
    readonly lastKind?: WorkerHeartbeatKind | undefined;
  },
  now: Date,
  staleMultiple: number = DEFAULT_HEARTBEAT_STALE_MULTIPLE,
): WorkerStatus {
  if (entry.lastKind === 'deregistration') return 'stopped';
  const age = now.getTime() - Date.parse(entry.lastSeen);
  return age <= staleMultiple * entry.intervalMs ? 'online' : 'offline';
}

/** Queue name of a site's task lane. */
export function workerTaskQueueName(environment: string, site: string): string {
  return `runlane-${environment}-worker-tasks-${site}`;
}
