/**
 * Names of the environment variables the Lambda functions read, declared once
 * for the CDK constructs (which set them) and the handlers (which read them).
 */
export const RUNTIME_ENV = {
  environmentName: 'RUNLANE_ENVIRONMENT',
  lifecycleTableName: 'LIFECYCLE_TABLE_NAME',
  /** Lane workers: the lane this function consumes. */
  laneName: 'LANE_NAME',
  /** Lane workers: the lane's DLQ, where poison and exhausted commands go with their reason. */
  laneDeadLetterQueueUrl: 'LANE_DLQ_URL',
  /** Lane workers: receives before SQS redrives; the attempt with this receive count is the final one. */
  laneMaxReceiveCount: 'LANE_MAX_RECEIVE_COUNT',
  /** Lane workers: attempt lock used when the remaining invocation time cannot be read (ms). */
  attemptLockFallbackMs: 'ATTEMPT_LOCK_FALLBACK_MS',
  /** API: JSON object mapping lane name to queue URL. */
  commandQueueUrls: 'COMMAND_QUEUE_URLS',
  telemetryBusName: 'TELEMETRY_BUS_NAME',
  /** Replay drill: JSON object mapping lane name to { queueUrl, dlqUrl }. */
  replayLaneQueues: 'REPLAY_LANE_QUEUES',
  retentionDays: 'RETENTION_DAYS',
  /** Runner event ingest: where refused agent events go, with their reason. */
  runnerEventDeadLetterQueueUrl: 'RUNNER_EVENT_DLQ_URL',
  maxBodyBytes: 'API_MAX_BODY_BYTES',
  /** API: `iam` (every route authorized) or `none` (sandbox: IAM routes open, see api-authorization). */
  apiAuthorization: 'API_AUTHORIZATION',
  /** API: the JWT claim naming the user's household (`auth.jwt.householdClaim`). */
  jwtHouseholdClaim: 'JWT_HOUSEHOLD_CLAIM',
  /** API: the JWT claim naming the user's role, `approver` or `member` (`auth.jwt.roleClaim`). */
  jwtRoleClaim: 'JWT_ROLE_CLAIM',
  /** API: seconds a worker timestamp may be ahead of (or a heartbeat behind) the time it arrives. */
  workerClockSkewSeconds: 'WORKER_CLOCK_SKEW_SECONDS',
  ingestionErrorRatioThreshold: 'INGESTION_ERROR_RATIO_THRESHOLD',
  stuckRunningMinutes: 'SWEEP_STUCK_RUNNING_MINUTES',
  staleReviewHours: 'SWEEP_STALE_REVIEW_HOURS',
  /** `anomaly.sweep`: minutes after its lock lapsed that a still-Reserved run is closed as abandoned. */
  abandonAfterMinutes: 'SWEEP_ABANDON_AFTER_MINUTES',
  /** Sweep lane worker: its own queue, where a sweep that ran out of time enqueues its continuation. */
  laneQueueUrl: 'LANE_QUEUE_URL',
  /** Supervisor silent-host check: a host whose latest report is older than this many minutes is silent. */
  supervisorStaleMinutes: 'SUPERVISOR_STALE_MINUTES',
  /**
   * Worker event ingest: where refused worker events go, with their reason. The worker
   * delegation settings (`WORKER_*`) are declared in `worker-settings.ts`.
   */
  workerEventDeadLetterQueueUrl: 'WORKER_EVENT_DLQ_URL',
} as const;

export type RuntimeEnvKey = keyof typeof RUNTIME_ENV;

/** Variables each function cannot start without; the CDK tests check every function sets them. */
export const REQUIRED_RUNTIME_ENV = {
  laneWorker: [
    'environmentName',
    'laneName',
    'lifecycleTableName',
    'laneDeadLetterQueueUrl',
    'telemetryBusName',
    'laneMaxReceiveCount',
    'attemptLockFallbackMs',
    'retentionDays',
  ],
  replayDrill: ['environmentName', 'lifecycleTableName', 'telemetryBusName', 'replayLaneQueues'],
  api: ['environmentName', 'lifecycleTableName', 'commandQueueUrls', 'maxBodyBytes'],
  runnerEventIngest: [
    'environmentName',
    'lifecycleTableName',
    'runnerEventDeadLetterQueueUrl',
    'retentionDays',
  ],
  supervisorSilentHosts: ['environmentName', 'lifecycleTableName', 'supervisorStaleMinutes'],
  workerEventIngest: [
    'environmentName',
    'lifecycleTableName',
    'workerEventDeadLetterQueueUrl',
    'retentionDays',
  ],
  workerSweep: ['environmentName', 'lifecycleTableName'],
} as const satisfies Record<string, readonly RuntimeEnvKey[]>;
