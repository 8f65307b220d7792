/**
 * The `reporting` section of both the worker config (common/worker-config.ts) and the runner
 * config (agent/runner/config.ts): sending agent events to the environment's telemetry bus, with
 * the offline spool behind it. Written with zod's mini API (same checks, same messages as the
 * classic one) so an idle `runlane-agent run`, which validates its config at start, never
 * evaluates the classic API (about 3 MiB of its RSS, issue 18).
 */
import { en } from 'zod/locales';
import * as z from 'zod/mini';

// zod's classic API registers English messages on its first schema; the mini API does not.
if (z.config().localeError === undefined) z.config(en());

/** AWS region names (`us-east-1`). */
export const awsRegionSchema = z
  .string()
  .check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1'));

const reportingObjectSchema = z.strictObject({
  /** Off: events stay in the evidence files only. */
  enabled: z._default(z.boolean(), true),
  /** Bus name; `{environment}` becomes the run's environment (the stack names its bus `runlane-<env>-telemetry`). */
  eventBus: z._default(
    z
      .string()
      .check(z.regex(/^[A-Za-z0-9._{}-]{1,256}$/, 'must be an EventBridge bus name, {environment} allowed')),
    'runlane-{environment}-telemetry',
  ),
  /** AWS region of the bus. @default the SDK's (AWS_REGION, profile) */
  region: z.optional(awsRegionSchema),
  /** Spool folder for events the bus did not take, relative to the working directory. */
  spoolDirectory: z._default(z.string().check(z.minLength(1)), '.runlane-agent/spool'),
  /** Bound on the spool's size; the oldest events are evicted (and counted) beyond it. */
  spoolMaxBytes: z._default(z.number().check(z.int(), z.gte(64 * 1024)), 50 * 1024 * 1024),
  /** Pause between background replay rounds of the spool. */
  replayIntervalMs: z._default(z.number().check(z.int(), z.gte(100), z.lte(3_600_000)), 5_000),
  /** Timeout of one PutEvents request (connect + response). */
  requestTimeoutMs: z._default(z.number().check(z.int(), z.gte(100), z.lte(60_000)), 3_000),
  /** PutEvents attempts per batch, the SDK's retries included, before events go to the spool. */
  maxAttempts: z._default(z.number().check(z.int(), z.gte(1), z.lte(10)), 2),
});

/** The `reporting` section with its defaults. */
export const eventReportingSchema = z._default(reportingObjectSchema, reportingObjectSchema.parse({}));

export type ReportingSettings = z.infer<typeof reportingObjectSchema>;
