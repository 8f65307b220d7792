import { z } from 'zod';
import { DEFAULT_JWT_CLAIMS } from '#contracts/identity.js';
import { DEFAULT_HEARTBEAT_STALE_MULTIPLE, workerSiteSchema } from '#contracts/worker-contract.js';
import { MAX_STALE_MINUTES, SILENT_HOSTS_CHECK_INTERVAL_MINUTES } from '#core/supervisor/silent-hosts.js';
import { DEFAULT_TASK_TIMEOUT_MS } from '#core/workers/delegation.js';
import {
  DEFAULT_RESULT_DEADLINE_SECONDS,
  DEFAULT_STUCK_TASK_MINUTES,
  MAX_RESULT_DEADLINE_SECONDS,
} from '#core/workers/settings.js';
import { MAX_STUCK_TASK_MINUTES, WORKER_SWEEP_INTERVAL_MINUTES } from '#core/workers/sweep.js';
import { githubDeploySchema, githubDeployTargetIssues } from './github-config.js';

/**
 * Per-environment configuration, read from `cdk.json` context key `runlane`.
 * One zod schema; every error names its field path, e.g.
 * `environments.prod.lanes.maxReceiveCount`.
 */

/** Retention periods CloudWatch Logs accepts, in days (`AWS::Logs::LogGroup.RetentionInDays`). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Default schedule of the nightly anomaly sweep: 03:00 UTC every day. */
export const DEFAULT_SWEEP_SCHEDULE = 'cron(0 3 * * ? *)';
/** Default CloudWatch Logs retention, in days. */
export const DEFAULT_LOG_RETENTION_DAYS = 30;

const laneSettingsSchema = z
  .object({
    /** Receives before SQS redrives to the DLQ. AWS guidance: 5. */
    maxReceiveCount: z.number().int().min(2).max(1000).default(5),
    batchSize: z.number().int().min(1).max(10).default(10),
    maxBatchingWindowSeconds: z.number().int().min(0).max(300).default(1),
    /** Event source mapping maximum concurrency (AWS allows 2–1000). */
    maxConcurrency: z.number().int().min(2).max(1000).default(5),
    functionTimeoutSeconds: z.number().int().min(3).max(900).default(30),
    memorySizeMb: z.number().int().min(128).max(10240).default(256),
  })
  .strict();

/** Steady-state rate and burst API Gateway allows on each route of a route group. */
const routeThrottleSchema = z
  .object({
    /** Steady-state requests per second on each route of the group. */
    rateLimit: z.number().positive(),
    /** Burst of requests on each route of the group. */
    burstLimit: z.number().int().positive(),
  })
  .strict();

/** Per-route throttles of each route group: household users, operators, worker hosts. */
const DEFAULT_ROUTE_THROTTLES = {
  household: { rateLimit: 50, burstLimit: 100 },
  operator: { rateLimit: 10, burstLimit: 20 },
  worker: { rateLimit: 50, burstLimit: 100 },
} as const;

const apiThrottlingSchema = z
  .object({
    household: routeThrottleSchema.default(DEFAULT_ROUTE_THROTTLES.household),
    operator: routeThrottleSchema.default(DEFAULT_ROUTE_THROTTLES.operator),
    worker: routeThrottleSchema.default(DEFAULT_ROUTE_THROTTLES.worker),
  })
  .strict();

/** The stage-wide throttle fields the per-group `api.throttling` replaced. */
const MOVED_THROTTLE_FIELDS = {
  throttlingRateLimit: 'rateLimit',
  throttlingBurstLimit: 'burstLimit',
} as const;

const apiSettingsSchema = z
  .object({
    /**
     * How operator and worker routes are authorized: `iam` (SigV4) by default; `none` only for
     * throwaway sandboxes, never prod. Household routes always need a JWT (`auth.jwt`).
     */
    authorization: z.enum(['iam', 'none']).default('iam'),
    /** Per-route throttles of each route group (`contracts/api-routes.ts` `group`). */
    throttling: apiThrottlingSchema.default(apiThrottlingSchema.parse({})),
    /** Largest request body the API accepts, in bytes; larger bodies get 413. */
    maxBodyBytes: z.number().int().min(1024).max(262_144).default(32_768),
    /** Replaced by `throttling.<group>`; refused with a pointer there. */
    throttlingRateLimit: z.unknown().optional(),
    throttlingBurstLimit: z.unknown().optional(),
  })
  .strict()
  .superRefine((api, context) => {
    for (const [field, replacement] of Object.entries(MOVED_THROTTLE_FIELDS)) {
      if (api[field as keyof typeof MOVED_THROTTLE_FIELDS] === undefined) continue;
      context.addIssue({
        code: 'custom',
        path: [field],
        message: `was replaced by per-route-group throttles: set throttling.household.${replacement}, throttling.operator.${replacement} and throttling.worker.${replacement}`,
      });
    }
  })
  .transform(({ throttlingRateLimit: _rate, throttlingBurstLimit: _burst, ...api }) => api);

/**
 * Household users' JWTs (API Gateway JWT authorizer on the household routes). With `issuer` and
 * `audience` the stack trusts that identity provider; without them it creates a Cognito user pool
 * and app client and trusts those. The claim names are what the API reads the household and the
 * role from.
 */
const jwtSettingsSchema = z
  .object({
    /** The issuer (`iss`) URL, e.g. `https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc`. */
    issuer: z.url({ protocol: /^https$/, message: 'must be an https URL' }).optional(),
    /** Accepted audiences (`aud`, or `client_id` of access tokens): at least one. */
    audience: z.array(z.string().min(1).max(256)).min(1).max(50).optional(),
    /** The claim holding the user's household id. */
    householdClaim: z.string().min(1).max(128).default(DEFAULT_JWT_CLAIMS.household),
    /** The claim holding the user's role (`approver` decides approvals; anything else is a member). */
    roleClaim: z.string().min(1).max(128).default(DEFAULT_JWT_CLAIMS.role),
  })
  .strict()
  .superRefine((jwt, context) => {
    if ((jwt.issuer === undefined) !== (jwt.audience === undefined)) {
      const missing = jwt.issuer === undefined ? 'issuer' : 'audience';
      const present = missing === 'issuer' ? 'audience' : 'issuer';
      context.addIssue({
        code: 'custom',
        path: [missing],
        message: `is required with ${present} (set both to trust an external issuer, or neither for the stack's Cognito user pool)`,
      });
    }
    if (jwt.householdClaim === jwt.roleClaim) {
      context.addIssue({
        code: 'custom',
        path: ['roleClaim'],
        message: `must differ from householdClaim (${jwt.householdClaim})`,
      });
    }
  });

const authSettingsSchema = z
  .object({
    jwt: jwtSettingsSchema.default(jwtSettingsSchema.parse({})),
  })
  .strict();

const lifecycleSettingsSchema = z
  .object({
    /** Days a run and its idempotency key are kept before TTL removes them (≥ SQS's 14-day max retention). */
    retentionDays: z.number().int().min(14).max(3650).default(30),
    /** Retain tables on stack deletion. */
    retainOnDelete: z.boolean().default(true),
    /**
     * DynamoDB deletion protection on the lifecycle table (`DeletionProtectionEnabled`: the table
     * refuses `DeleteTable`, from the console, the CLI or CloudFormation). Default: on whenever
     * the table is retained on stack deletion (`retainOnDelete`, itself on by default), so prod
     * and staging are protected unless configured otherwise; a throwaway environment with
     * `retainOnDelete: false` gets it off, so its stack can still be deleted.
     */
    deletionProtection: z.boolean().optional(),
  })
  .strict()
  .superRefine((lifecycle, context) => {
    if (lifecycle.deletionProtection === true && !lifecycle.retainOnDelete) {
      context.addIssue({
        code: 'custom',
        path: ['deletionProtection'],
        message:
          'cannot be true while retainOnDelete is false: deleting the stack would fail on the protected table',
      });
    }
  });

const commandSettingsSchema = z
  .object({
    /** `ingestion.completed`: error ratio above which a signal is raised. */
    ingestionErrorRatioThreshold: z.number().min(0).max(1).default(0.05),
    /** `anomaly.sweep`: a run still Running after this many minutes is stuck. */
    stuckRunningMinutes: z.number().int().positive().default(60),
    /** `anomaly.sweep`: a NeedsReview run older than this many hours is stale. */
    staleReviewHours: z.number().int().positive().default(24),
    /**
     * `anomaly.sweep`: a run whose key is still Reserved this many minutes after its attempt's lock
     * lapsed is closed as `attempt_abandoned` (Rejected, NeedsReview). Each lane refuses a value
     * not above its (maxReceiveCount + 2) × visibility timeout (`CommandLane`), the longest its
     * message can still come back: with the defaults 7 × 181 s ≈ 21 minutes.
     */
    abandonAfterMinutes: z.number().int().min(1).max(10_080).default(60),
  })
  .strict();

/**
 * One burn alarm on the runner stall rate: stalls per second over a window of
 * `windowMinutes` (one alarm period), above `ratePerSecond` for
 * `sustainMinutes` (whole windows, so a multiple of the window).
 */
function burnSchema(defaults: { ratePerSecond: number; windowMinutes: number; sustainMinutes: number }) {
  return z
    .object({
      /** Stalls per second (all hosts of the environment) above which the window breaches. */
      ratePerSecond: z.number().positive().max(1000).default(defaults.ratePerSecond),
      /** Window the rate is measured over, in minutes (the alarm period). */
      windowMinutes: z.number().int().min(1).max(1440).default(defaults.windowMinutes),
      /** How long the rate must stay above the threshold, in minutes: a multiple of `windowMinutes`. */
      sustainMinutes: z.number().int().min(1).max(1440).default(defaults.sustainMinutes),
    })
    .strict()
    .superRefine((burn, context) => {
      if (burn.sustainMinutes % burn.windowMinutes !== 0) {
        context.addIssue({
          code: 'custom',
          path: ['sustainMinutes'],
          message: `must be a whole number of windows (a multiple of windowMinutes = ${burn.windowMinutes}), got ${burn.sustainMinutes}`,
        });
      }
    });
}

/** Seed 002: fast burn `rate(stalls[5m]) > 0.2` for 10 m (critical); slow burn `rate(stalls[1h]) > 0.05` for 2 h (warning). */
const runnerStallAlarmSettingsSchema = z
  .object({
    fastBurn: burnSchema({ ratePerSecond: 0.2, windowMinutes: 5, sustainMinutes: 10 }).default({
      ratePerSecond: 0.2,
      windowMinutes: 5,
      sustainMinutes: 10,
    }),
    slowBurn: burnSchema({ ratePerSecond: 0.05, windowMinutes: 60, sustainMinutes: 120 }).default({
      ratePerSecond: 0.05,
      windowMinutes: 60,
      sustainMinutes: 120,
    }),
  })
  .strict();

/**
 * A supervisor alarm: the environment's value per window of `windowMinutes`
 * (one alarm period) above `threshold` in every window of `sustainMinutes`.
 */
function sustainedSchema(defaults: { threshold: number; windowMinutes: number; sustainMinutes: number }) {
  return z
    .object({
      /** The window breaches when the value is above this (0: any). */
      threshold: z.number().int().min(0).max(10_000).default(defaults.threshold),
      /** Window the value is read over, in minutes (the alarm period). */
      windowMinutes: z.number().int().min(1).max(1440).default(defaults.windowMinutes),
      /** How long every window must breach, in minutes: a multiple of `windowMinutes`, at most 1440. */
      sustainMinutes: z.number().int().min(1).max(1440).default(defaults.sustainMinutes),
    })
    .strict()
    .superRefine((alarm, context) => {
      if (alarm.sustainMinutes % alarm.windowMinutes !== 0) {
        context.addIssue({
          code: 'custom',
          path: ['sustainMinutes'],
          message: `must be a whole number of windows (a multiple of windowMinutes = ${alarm.windowMinutes}), got ${alarm.sustainMinutes}`,
        });
      }
    });
}

/**
 * The silent-host alarm: the scheduled check (every
 * {@link SILENT_HOSTS_CHECK_INTERVAL_MINUTES} minutes) counts hosts whose
 * latest report is older than `staleMinutes`; the alarm fires when that count
 * is above 0 in every check period of `sustainMinutes`.
 */
const silentHostsSchema = z
  .object({
    /** A host whose latest SupervisorHealth report is older than this many minutes is silent (reports come every 30 s by default). */
    staleMinutes: z.number().int().min(1).max(MAX_STALE_MINUTES).default(15),
    /** How long some host must stay silent, in minutes: a multiple of the check interval (5), at most 1440. */
    sustainMinutes: z.number().int().min(SILENT_HOSTS_CHECK_INTERVAL_MINUTES).max(1440).default(15),
  })
  .strict()
  .superRefine((alarm, context) => {
    if (alarm.sustainMinutes % SILENT_HOSTS_CHECK_INTERVAL_MINUTES !== 0) {
      context.addIssue({
        code: 'custom',
        path: ['sustainMinutes'],
        message: `must be a whole number of check periods (a multiple of ${SILENT_HOSTS_CHECK_INTERVAL_MINUTES} minutes), got ${alarm.sustainMinutes}`,
      });
    }
  });

const DASHBOARD_DISCONNECTED_DEFAULTS = { threshold: 0, windowMinutes: 5, sustainMinutes: 15 };
const CHILDREN_QUARANTINED_DEFAULTS = { threshold: 0, windowMinutes: 5, sustainMinutes: 30 };

/**
 * Alarms on what `runlane-agent supervise` reports (seed 001, P1-003 and P1-002).
 * Defaults: some host reports `dashboard_link` disconnected in every 5-minute
 * window for 15 minutes; some host keeps a quarantined child for 30 minutes;
 * some host has sent no report for more than 15 minutes, for 15 minutes.
 */
const supervisorAlarmSettingsSchema = z
  .object({
    /** `SupervisorDisconnectedReports` Sum per window (all hosts) above `threshold`, sustained. */
    dashboardDisconnected: sustainedSchema(DASHBOARD_DISCONNECTED_DEFAULTS).default(
      DASHBOARD_DISCONNECTED_DEFAULTS,
    ),
    /** `SupervisorQuarantinedChildren` Maximum per window (any host) above `threshold`, sustained. */
    childrenQuarantined: sustainedSchema(CHILDREN_QUARANTINED_DEFAULTS).default(
      CHILDREN_QUARANTINED_DEFAULTS,
    ),
    /** Hosts whose latest report is older than `staleMinutes` (the scheduled check's `SupervisorSilentHosts`), sustained. */
    silentHosts: silentHostsSchema.default(silentHostsSchema.parse({})),
  })
  .strict();

/**
 * A worker alarm read from the sweep (one value every {@link WORKER_SWEEP_INTERVAL_MINUTES}
 * minutes): above `threshold` in every sweep of `sustainMinutes`.
 */
function sweepAlarmSchema(defaults: { threshold: number; sustainMinutes: number }) {
  return z
    .object({
      /** The sweep breaches when the value is above this (0: any). */
      threshold: z.number().int().min(0).max(10_000).default(defaults.threshold),
      /** How long every sweep must breach, in minutes: a multiple of the sweep interval (5), at most 1440. */
      sustainMinutes: z
        .number()
        .int()
        .min(WORKER_SWEEP_INTERVAL_MINUTES)
        .max(1440)
        .default(defaults.sustainMinutes),
    })
    .strict()
    .superRefine((alarm, context) => {
      if (alarm.sustainMinutes % WORKER_SWEEP_INTERVAL_MINUTES !== 0) {
        context.addIssue({
          code: 'custom',
          path: ['sustainMinutes'],
          message: `must be a whole number of sweeps (a multiple of ${WORKER_SWEEP_INTERVAL_MINUTES} minutes), got ${alarm.sustainMinutes}`,
        });
      }
    });
}

/** A task's default start deadline (`timeoutMs` of its message), in seconds: no result can be due sooner. */
const MIN_RESULT_DEADLINE_SECONDS = DEFAULT_TASK_TIMEOUT_MS / 1000;

const OFFLINE_WORKERS_DEFAULTS = { threshold: 0, sustainMinutes: 15 };
const STUCK_TASKS_DEFAULTS = { threshold: 0, sustainMinutes: 10 };

/** Alarms read from 1-minute SQS metrics of each site's task lane: breaching in every minute of `sustainMinutes`. */
const taskDlqAlarmSchema = z
  .object({
    /** Minutes the site's task DLQ must hold a message before the alarm fires (1: at once). */
    sustainMinutes: z.number().int().min(1).max(1440).default(1),
  })
  .strict();

const queueNotDrainingSchema = z
  .object({
    /**
     * The site's oldest task message older than this many seconds alarms. A message stays in the
     * queue (in flight) while its task runs, so this must exceed the longest task a site runs.
     */
    oldestMessageAgeSeconds: z.number().int().min(60).max(1_209_600).default(900),
    /** Minutes the age must stay above the threshold (one 1-minute period each). */
    sustainMinutes: z.number().int().min(1).max(1440).default(5),
  })
  .strict();

/**
 * Alarms of worker delegation (seed 004), created only in an environment with `workers.sites`.
 * Defaults: some worker offline in every sweep for 15 minutes (warning); some task executing
 * past `workers.stuckTaskMinutes` in every sweep for 10 minutes (critical); a site's task DLQ
 * holds a message (critical); a site's oldest task older than 15 minutes for 5 minutes (critical).
 */
const workerAlarmSettingsSchema = z
  .object({
    /** `WorkersOffline` (the sweep) above `threshold`, sustained. */
    offlineWorkers: sweepAlarmSchema(OFFLINE_WORKERS_DEFAULTS).default(OFFLINE_WORKERS_DEFAULTS),
    /** `WorkerTasksStuckExecuting` (the sweep) above `threshold`, sustained. */
    stuckTasks: sweepAlarmSchema(STUCK_TASKS_DEFAULTS).default(STUCK_TASKS_DEFAULTS),
    /** A site's task DLQ not empty. */
    taskDlq: taskDlqAlarmSchema.default(taskDlqAlarmSchema.parse({})),
    /** A site's task lane not draining (seed 004 "Queue not draining"): oldest message age. */
    queueNotDraining: queueNotDrainingSchema.default(queueNotDrainingSchema.parse({})),
  })
  .strict();

const alarmSettingsSchema = z
  .object({
    /** Email addresses subscribed to the environment's critical topic (pages: DLQ, stuck lanes, worker errors). */
    criticalEmails: z.array(z.email()).default([]),
    /** Email addresses subscribed to the warning topic (throttles, NeedsReview backlog, latency). */
    warningEmails: z.array(z.email()).default([]),
    /** A lane's oldest message older than this many seconds, for 3 minutes, alarms (critical). */
    oldestMessageAgeSeconds: z.number().int().min(60).max(1_209_600).default(900),
    /** Worker function errors (crashes, timeouts) per 5 minutes at which a lane alarms (critical). */
    workerErrors: z.number().int().min(1).default(1),
    /** Worker function throttles per 5 minutes at which a lane alarms (warning). */
    workerThrottles: z.number().int().min(1).default(5),
    /**
     * Net growth of the review queue — runs entering NeedsReview minus runs a
     * later attempt resolved, all lanes — over `needsReviewWindowMinutes` at
     * which the environment alarms (warning).
     */
    needsReviewGrowth: z.number().int().min(1).default(10),
    /** Window of the NeedsReview backlog alarm, in minutes (one alarm period). */
    needsReviewWindowMinutes: z.number().int().min(5).max(1440).default(60),
    /** A lane's p95 end-to-end latency (issuedAt → terminal state) above this, for 15 minutes, alarms (warning). */
    endToEndLatencyP95Seconds: z.number().positive().max(86_400).default(60),
    /** Burn alarms on the stall rate the on-host agents report (`RunnerStalls`, all hosts). */
    runnerStalls: runnerStallAlarmSettingsSchema.default(runnerStallAlarmSettingsSchema.parse({})),
    /** Alarms on supervisor health reports: a disconnected dashboard link, quarantined children. */
    supervisor: supervisorAlarmSettingsSchema.default(supervisorAlarmSettingsSchema.parse({})),
    /** Alarms of worker delegation; only environments with `workers.sites` get them. */
    workers: workerAlarmSettingsSchema.default(workerAlarmSettingsSchema.parse({})),
  })
  .strict();

/** Seconds a worker timestamp may be ahead of its receipt unless `workers.clockSkewSeconds` says otherwise. */
export const DEFAULT_WORKER_CLOCK_SKEW_SECONDS = 300;

/** An account id, or the ARN of an IAM role, user or account root. */
const HOST_ROLE_TRUST_PATTERN =
  /^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:(root|(role|user)\/[\w+=,.@/-]{1,512}))$/;

/**
 * Worker delegation (seed 004). Each site gets a task lane `runlane-<env>-worker-tasks-<site>`
 * (with its DLQ) and a host policy `runlane-<env>-worker-<site>`; with no site the environment
 * has no worker infrastructure at all (no lanes, no ingest, no sweep, no worker alarms) and
 * delegation stays off.
 */
const workerSettingsSchema = z
  .object({
    /** Site slugs (the contract's site rule: 1-32 of a-z, 0-9, "-"), each once. */
    sites: z.array(workerSiteSchema).max(50).default([]),
    /** `WORKER_DELEGATION_ENABLED`: the flag's value until an operator sets it (`PUT /api/workers/delegation`). */
    delegationEnabled: z.boolean().default(false),
    /** `WORKER_HEARTBEAT_STALE_MULTIPLE`: missed heartbeat intervals before a worker is offline. */
    heartbeatStaleMultiple: z.number().min(1).max(100).default(DEFAULT_HEARTBEAT_STALE_MULTIPLE),
    /** `WORKER_STUCK_TASK_MINUTES`: a task executing longer than this is stuck. */
    stuckTaskMinutes: z.number().int().min(1).max(MAX_STUCK_TASK_MINUTES).default(DEFAULT_STUCK_TASK_MINUTES),
    /**
     * `WORKER_RESULT_DEADLINE_SECONDS`: how long a delegated action's run waits for its worker's
     * result; then the worker sweep (every 5 minutes) turns it NeedsReview with
     * `worker_result_missing`. At least the task's start deadline (5 minutes), at most 7 days.
     */
    resultDeadlineSeconds: z
      .number()
      .int()
      .min(MIN_RESULT_DEADLINE_SECONDS, {
        message: `must be at least ${MIN_RESULT_DEADLINE_SECONDS} seconds (a task may wait that long to start)`,
      })
      .max(MAX_RESULT_DEADLINE_SECONDS, {
        message: `must be at most ${MAX_RESULT_DEADLINE_SECONDS} seconds (7 days)`,
      })
      .default(DEFAULT_RESULT_DEADLINE_SECONDS),
    /** Receives of a task message before SQS moves it to the site's task DLQ. */
    maxReceiveCount: z.number().int().min(1).max(1000).default(5),
    /**
     * The task lanes' default visibility timeout, in seconds. `runlane-agent worker` sets its own on
     * every receive and renews it while the task runs, so this only covers a receiver that does
     * not (a CLI, a script): it need not exceed the contract's longest `timeoutMs` (1 h), which is
     * the deadline to *start* a task, not its run time.
     */
    visibilityTimeoutSeconds: z.number().int().min(30).max(43_200).default(900),
    /**
     * `WORKER_CLOCK_SKEW_SECONDS`: how far a worker's `ts` may be ahead of the time the API or the
     * worker ingest receives it (and a heartbeat behind it) before it is refused.
     */
    clockSkewSeconds: z.number().int().min(5).max(3600).default(DEFAULT_WORKER_CLOCK_SKEW_SECONDS),
    /**
     * Who may assume the sites' worker roles (`runlane-<env>-worker-<site>`): 12-digit account ids
     * (their IAM principals, as the account's policies allow) or IAM role/user ARNs. Empty: this
     * account.
     */
    hostRoleTrust: z
      .array(
        z
          .string()
          .regex(
            HOST_ROLE_TRUST_PATTERN,
            'must be a 12-digit account id or an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)',
          ),
      )
      .max(20)
      .default([]),
  })
  .strict()
  .superRefine((workers, context) => {
    const seen = new Set<string>();
    workers.sites.forEach((site, index) => {
      if (seen.has(site)) {
        context.addIssue({ code: 'custom', path: ['sites', index], message: `site "${site}" is repeated` });
      }
      seen.add(site);
    });
    const ids = new Map<string, string>();
    workers.sites.forEach((site, index) => {
      const id = workerSiteOutputId(site);
      const other = ids.get(id);
      if (other !== undefined && other !== site) {
        context.addIssue({
          code: 'custom',
          path: ['sites', index],
          message: `site "${site}" and "${other}" would share the stack output suffix ${id}`,
        });
      }
      ids.set(id, site);
    });
    if (workers.delegationEnabled && workers.sites.length === 0) {
      context.addIssue({
        code: 'custom',
        path: ['delegationEnabled'],
        message: 'cannot be true without a site: delegated tasks need a task lane (workers.sites)',
      });
    }
  });

/**
 * The suffix of a site's stack outputs (`WorkerTaskQueueUrl<Site>`): its slug in PascalCase.
 *
 * @example
 * workerSiteOutputId('lab-east'); // 'LabEast'
 */
export function workerSiteOutputId(site: string): string {
  return site
    .split('-')
    .filter((part) => part.length > 0)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

const environmentSchema = z
  .object({
    account: z
      .string()
      .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
      .optional(),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1'),
    lanes: laneSettingsSchema.default(laneSettingsSchema.parse({})),
    api: apiSettingsSchema.default(apiSettingsSchema.parse({})),
    auth: authSettingsSchema.default(authSettingsSchema.parse({})),
    lifecycle: lifecycleSettingsSchema.default(lifecycleSettingsSchema.parse({})),
    commands: commandSettingsSchema.default(commandSettingsSchema.parse({})),
    alarms: alarmSettingsSchema.default(alarmSettingsSchema.parse({})),
    workers: workerSettingsSchema.default(workerSettingsSchema.parse({})),
    /** EventBridge schedule expression for the nightly anomaly sweep. */
    sweepSchedule: z
      .string()
      .regex(/^(cron|rate)\(.+\)$/, 'must be a schedule expression such as cron(0 3 * * ? *)')
      .default(DEFAULT_SWEEP_SCHEDULE),
    /** CloudWatch Logs retention for every log group of the environment; one of {@link LOG_RETENTION_DAYS}. */
    logRetentionDays: z
      .number()
      .int()
      .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
        message: `must be a CloudWatch Logs retention period: one of ${LOG_RETENTION_DAYS.join(', ')}`,
      })
      .default(DEFAULT_LOG_RETENTION_DAYS),
  })
  .strict();

export const runlaneConfigSchema = z
  .object({
    environments: z
      .object({ dev: environmentSchema, staging: environmentSchema, prod: environmentSchema })
      .strict(),
    /** GitHub Actions deploy identity (`lib/deploy/github-deploy-role.ts`); absent: no deploy stack. */
    github: githubDeploySchema.optional(),
  })
  .strict()
  .superRefine((config, context) => {
    // With github deploy roles, every environment in an account of its own.
    for (const issue of githubDeployTargetIssues(config.environments, config.github)) {
      context.addIssue({ code: 'custom', path: [...issue.path], message: issue.message });
    }
  })
  .superRefine((config, context) => {
    if (config.environments.prod.api.authorization === 'none') {
      context.addIssue({
        code: 'custom',
        path: ['environments', 'prod', 'api', 'authorization'],
        message:
          'must be "iam" in prod: "none" leaves the operator and worker routes open and is only for throwaway sandboxes',
      });
    }
  });

export type RunlaneConfig = z.infer<typeof runlaneConfigSchema>;
export type EnvironmentConfig = z.infer<typeof environmentSchema>;
export type LaneSettings = z.infer<typeof laneSettingsSchema>;
export type ApiSettings = z.infer<typeof apiSettingsSchema>;
export type LifecycleSettings = z.infer<typeof lifecycleSettingsSchema>;
export type CommandSettings = z.infer<typeof commandSettingsSchema>;
export type AlarmSettings = z.infer<typeof alarmSettingsSchema>;
export type RunnerStallAlarmSettings = z.infer<typeof runnerStallAlarmSettingsSchema>;
export type BurnAlarmSettings = RunnerStallAlarmSettings['fastBurn'];
export type SupervisorAlarmSettings = z.infer<typeof supervisorAlarmSettingsSchema>;
export type SustainedAlarmSettings = SupervisorAlarmSettings['dashboardDisconnected'];
export type SilentHostsAlarmSettings = SupervisorAlarmSettings['silentHosts'];
export type WorkerSettingsConfig = z.infer<typeof workerSettingsSchema>;
export type RouteThrottle = z.infer<typeof routeThrottleSchema>;
export type WorkerAlarmSettings = z.infer<typeof workerAlarmSettingsSchema>;
export type SweepAlarmSettings = WorkerAlarmSettings['offlineWorkers'];

/**
 * The schema defaults, read once so the constructs default to the same values
 * an environment gets when `cdk.json` leaves a field out.
 */
export const DEFAULT_LANE_SETTINGS: Readonly<LaneSettings> = Object.freeze(laneSettingsSchema.parse({}));
export const DEFAULT_API_SETTINGS: Readonly<ApiSettings> = Object.freeze(apiSettingsSchema.parse({}));
export const DEFAULT_LIFECYCLE_SETTINGS: Readonly<LifecycleSettings> = Object.freeze(
  lifecycleSettingsSchema.parse({}),
);
export const DEFAULT_COMMAND_SETTINGS: Readonly<CommandSettings> = Object.freeze(
  commandSettingsSchema.parse({}),
);
export const DEFAULT_ALARM_SETTINGS: Readonly<AlarmSettings> = Object.freeze(alarmSettingsSchema.parse({}));
export const DEFAULT_WORKER_SETTINGS_CONFIG: Readonly<WorkerSettingsConfig> = Object.freeze(
  workerSettingsSchema.parse({}),
);
export type EnvironmentName = keyof RunlaneConfig['environments'];
export const ENVIRONMENT_NAMES: readonly EnvironmentName[] = ['dev', 'staging', 'prod'];

/** A configuration error; `issues` lists every problem, each with its field path. */
export class ConfigError extends Error {
  public readonly issues: readonly { readonly fieldPath: string; readonly message: string }[];

  public constructor(issues: readonly { readonly fieldPath: string; readonly message: string }[]) {
    super(
      `Invalid Runlane configuration:\n${issues.map((i) => `  - ${i.fieldPath}: ${i.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/**
 * Validates the `runlane` context value. Throws one {@link ConfigError} listing every problem.
 *
 * @example
 * const config = parseRunlaneConfig(app.node.tryGetContext('runlane'));
 * config.environments.prod.lanes.maxReceiveCount; // 5 unless overridden
 */
export function parseRunlaneConfig(raw: unknown): RunlaneConfig {
  const result = runlaneConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => ({
      fieldPath: issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)',
      message: issue.message,
    })),
  );
}
