import { readFile } from 'node:fs/promises';
import * as z from 'zod/mini';
import type { ConfigIssue } from '#common/config-issues.js';
import { eventReportingSchema, type ReportingSettings } from '#common/event-reporting.js';
import { HostFileError, RunnerConfigError } from '../errors.js';
import { EVENT_BUS_ENV, RUNNER_ENV } from './env-names.js';
import { checkConfigFile } from './host-files.js';

/**
 * `config/runner.json`: watchdog deadlines per environment and the root-cause
 * thresholds. One zod schema (the mini API: an idle `runlane-agent run` never evaluates the
 * classic one, issue 18); every error names its field path, e.g. `environments.prod.idleMs`.
 */

const positiveMs = z.number().check(z.int(), z.gt(0));

const timeoutsSchema = z.strictObject({
  /** No stdout/stderr for this long is a stall (idle timeout). */
  idleMs: positiveMs,
  /** The command may run at most this long (hard timeout). */
  hardMs: positiveMs,
  /** Between SIGTERM and SIGKILL to the process tree. */
  killGraceMs: z.number().check(z.int(), z.gte(0)),
});

const rootCauseSchema = z.strictObject({
  /** Output lines kept for the classifier (the last N). */
  tailLines: z._default(z.number().check(z.int(), z.gte(1), z.lte(10_000)), 50),
  /** Most evidence lines an event keeps. */
  maxEvidenceLines: z._default(z.number().check(z.int(), z.gte(1), z.lte(100)), 5),
  /** 1-minute load average per core above which a stall is `cpu_starve`. */
  loadPerCoreThreshold: z._default(z.number().check(z.gt(0)), 2),
  /** `/proc/pressure/cpu` `some avg10` (%) above which a stall is `cpu_starve`. */
  cpuPressureThreshold: z._default(z.number().check(z.gte(0), z.lte(100)), 40),
  /** `/proc/pressure/io` `some avg10` (%) above which a stall is `io_wait`. */
  ioPressureThreshold: z._default(z.number().check(z.gte(0), z.lte(100)), 40),
});

export const runnerConfigSchema = z.strictObject({
  defaults: timeoutsSchema,
  environments: z.record(z.string().check(z.minLength(1)), z.partial(timeoutsSchema)),
  rootCause: z._default(rootCauseSchema, rootCauseSchema.parse({})),
  /** Where stall events are appended, relative to the working directory. */
  evidenceFile: z._default(z.string().check(z.minLength(1)), 'evidence/runner/stall-events.jsonl'),
  /** Where run summaries are appended. @default `run-summaries.jsonl` next to `evidenceFile` */
  runSummaryFile: z.optional(z.string().check(z.minLength(1))),
  reporting: eventReportingSchema,
  /** Port of the local Prometheus endpoint on 127.0.0.1; 0 turns it off. */
  metricsPort: z._default(z.number().check(z.int(), z.gte(0), z.lte(65_535)), 4001),
  /**
   * Leave processes the command left in its process group running after it exits. Off: they
   * are stopped like a stalled tree (SIGTERM, SIGKILL after killGraceMs) and counted in the run
   * summary's `orphansStopped`.
   */
  keepOrphans: z._default(z.boolean(), false),
});

export type RunnerConfig = z.infer<typeof runnerConfigSchema>;
export type RootCauseThresholds = z.infer<typeof rootCauseSchema>;

/** The runner config shipped with the agent. */
export const DEFAULT_RUNNER_CONFIG_FILE = new URL('../../config/runner.json', import.meta.url);

/** The bus of `environment`: `--event-bus` < RUNLANE_EVENT_BUS < `reporting.eventBus` with `{environment}` filled in. */
export function resolveEventBus(
  reporting: ReportingSettings,
  environment: string,
  env: Readonly<Record<string, string | undefined>>,
  flag: string | undefined,
): string {
  const fromEnv = env[EVENT_BUS_ENV];
  return (
    flag ??
    (fromEnv === undefined || fromEnv === '' ? undefined : fromEnv) ??
    reporting.eventBus.replaceAll('{environment}', environment)
  );
}

/**
 * Validates a parsed runner config. Throws one {@link RunnerConfigError} listing every problem.
 *
 * @example
 * parseRunnerConfig(JSON.parse(text), 'config/runner.json').defaults.idleMs; // 12000
 */
export function parseRunnerConfig(raw: unknown, source: string): RunnerConfig {
  const result = runnerConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new RunnerConfigError(
    source,
    result.error.issues.map((issue) => ({
      fieldPath: issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)',
      message: issue.message,
    })),
  );
}

/** Reads and validates a runner config file. */
export async function loadRunnerConfig(file: string | URL): Promise<RunnerConfig> {
  const source = file instanceof URL ? file.pathname : file;
  // Whoever can write this file decides what the agent runs: refused unless root or the agent's user owns it, not group/other writable.
  await checkConfigFile(source).catch((error: unknown) => {
    if (!(error instanceof HostFileError)) throw error;
    throw new RunnerConfigError(source, [{ fieldPath: '(file)', message: error.problem }], { cause: error });
  });
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new RunnerConfigError(source, [{ fieldPath: '(file)', message: 'cannot be read' }], {
      cause: error,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new RunnerConfigError(source, [{ fieldPath: '(root)', message: 'is not valid JSON' }], {
      cause: error,
    });
  }
  return parseRunnerConfig(raw, source);
}

/** Deadlines of one run, after every override. */
export interface WatchdogTimeouts {
  readonly idleMs: number;
  readonly hardMs: number;
  readonly killGraceMs: number;
}

/** Overrides from flags (`--idle-ms`, `--hard-ms`, `--kill-grace-ms`); already parsed. */
export type TimeoutFlags = Partial<WatchdogTimeouts>;

/**
 * Deadlines for `environment`, merged in this order (later wins):
 * `defaults` < `environments.<env>` < `RUNNER_IDLE_MS` / `RUNNER_HARD_MS` < flags.
 * Throws {@link RunnerConfigError} naming the environment variable when one is malformed,
 * or `environments` when the environment is not configured.
 *
 * @example
 * resolveTimeouts(config, 'prod', { RUNNER_IDLE_MS: '14400' }, { hardMs: 60000 });
 * // { idleMs: 14400, hardMs: 60000, killGraceMs: 2000 }
 */
export function resolveTimeouts(
  config: RunnerConfig,
  environment: string,
  env: Readonly<Record<string, string | undefined>>,
  flags: TimeoutFlags,
): WatchdogTimeouts {
  const issues: ConfigIssue[] = [];
  const perEnvironment = config.environments[environment];
  if (perEnvironment === undefined) {
    issues.push({
      fieldPath: `environments.${environment}`,
      message: `environment is not configured (known: ${Object.keys(config.environments).join(', ')})`,
    });
  }
  const fromEnv = (key: keyof typeof RUNNER_ENV): number | undefined => {
    const name = RUNNER_ENV[key];
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    const parsed = parsePositiveInt(value);
    if (parsed === undefined)
      issues.push({ fieldPath: name, message: `must be a positive integer (ms), got "${value}"` });
    return parsed;
  };
  const idleFromEnv = fromEnv('idleMs');
  const hardFromEnv = fromEnv('hardMs');
  if (issues.length > 0) throw new RunnerConfigError('runner settings', issues);
  return {
    idleMs: flags.idleMs ?? idleFromEnv ?? perEnvironment?.idleMs ?? config.defaults.idleMs,
    hardMs: flags.hardMs ?? hardFromEnv ?? perEnvironment?.hardMs ?? config.defaults.hardMs,
    killGraceMs: flags.killGraceMs ?? perEnvironment?.killGraceMs ?? config.defaults.killGraceMs,
  };
}

/** `"1200"` → 1200; anything else (sign, fraction, unit, zero) → undefined. */
export function parsePositiveInt(value: string): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) && parsed > 0 ? parsed : undefined;
}
