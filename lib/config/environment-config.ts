import { z } from 'zod';

/**
 * Per-environment configuration, read from `cdk.json` context key `runlane`.
 * One zod schema; every error names its field path, e.g.
 * `environments.prod.lanes.maxReceiveCount`.
 */

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

const apiSettingsSchema = z
  .object({
    /** `iam` (SigV4) by default; `none` only for throwaway sandboxes. */
    authorization: z.enum(['iam', 'none']).default('iam'),
    throttlingRateLimit: z.number().positive().default(50),
    throttlingBurstLimit: z.number().int().positive().default(100),
    /** Largest request body the API accepts, in bytes; larger bodies get 413. */
    maxBodyBytes: z.number().int().min(1024).max(262_144).default(32_768),
  })
  .strict();

const lifecycleSettingsSchema = z
  .object({
    /** Days a run and its idempotency key are kept before TTL removes them (≥ SQS's 14-day max retention). */
    retentionDays: z.number().int().min(14).max(3650).default(30),
    /** Retain tables on stack deletion. */
    retainOnDelete: z.boolean().default(true),
  })
  .strict();

const commandSettingsSchema = z
  .object({
    /** `ingestion.completed`: error ratio above which a signal is raised. */
    ingestionErrorRatioThreshold: z.number().min(0).max(1).default(0.05),
    /** `anomaly.sweep`: a run still Running after this many minutes is stuck. */
    stuckRunningMinutes: z.number().int().positive().default(60),
    /** `anomaly.sweep`: a NeedsReview run older than this many hours is stale. */
    staleReviewHours: z.number().int().positive().default(24),
  })
  .strict();

const environmentSchema = z
  .object({
    account: z
      .string()
      .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
      .optional(),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1'),
    lanes: laneSettingsSchema.default(laneSettingsSchema.parse({})),
    api: apiSettingsSchema.default(apiSettingsSchema.parse({})),
    lifecycle: lifecycleSettingsSchema.default(lifecycleSettingsSchema.parse({})),
    commands: commandSettingsSchema.default(commandSettingsSchema.parse({})),
    /** EventBridge schedule expression for the nightly anomaly sweep. */
    sweepSchedule: z
      .string()
      .regex(/^(cron|rate)\(.+\)$/, 'must be a schedule expression such as cron(0 3 * * ? *)')
      .default('cron(0 3 * * ? *)'),
    logRetentionDays: z.number().int().positive().default(30),
  })
  .strict();

export const runlaneConfigSchema = z
  .object({
    environments: z
      .object({ dev: environmentSchema, staging: environmentSchema, prod: environmentSchema })
      .strict(),
  })
  .strict();

export type RunlaneConfig = z.infer<typeof runlaneConfigSchema>;
export type EnvironmentConfig = z.infer<typeof environmentSchema>;
export type LaneSettings = z.infer<typeof laneSettingsSchema>;
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
