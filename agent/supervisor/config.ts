import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { configIssues } from '#common/config-issues.js';
import { HostFileError } from '../errors.js';
import { runnerConfigSchema } from '../runner/config.js';
import { checkConfigFile } from '../runner/host-files.js';
import { SupervisorConfigError } from './errors.js';

/**
 * `runlane-agent supervise --config <file>`: the children to keep running and how. One zod
 * schema; every error names its field path (`children.1.name`, `dashboard.path`), see
 * `agent/supervisor/README.md` and `config/supervisor.example.json`.
 */

/** Longest delay a Node timer takes (2^31 - 1 ms, about 24.8 days); longer ones would fire at once. */
import { inheritEnvSchema, MAX_TIMER_MS } from '#common/worker-config.js';

const ms = z.number().int().positive().max(MAX_TIMER_MS);
const graceMs = z.number().int().nonnegative().max(MAX_TIMER_MS);

export const RESTART_POLICIES = ['permanent', 'transient', 'temporary'] as const;

/** Restart delays: `initialMs`, then times `multiplier` per consecutive restart, at most `maxMs`. */
const backoffSchema = z
  .object({
    initialMs: z.number().int().nonnegative().max(MAX_TIMER_MS).default(100),
    maxMs: ms.default(30_000),
    multiplier: z.number().min(1).max(100).default(2),
    /** A run at least this long resets the delay to `initialMs`. */
    resetAfterMs: ms.default(30_000),
  })
  .strict()
  .refine((b) => b.maxMs >= b.initialMs, { message: 'must be >= initialMs', path: ['maxMs'] });

/** Token bucket (OTP restart intensity): each automatic restart takes a token; they refill continuously. */
const restartBudgetSchema = z
  .object({
    /** Bucket capacity: restarts allowed in a burst. */
    tokens: z.number().int().min(1).max(10_000).default(5),
    /** Time for an empty bucket to refill completely. */
    refillWindowMs: ms.default(60_000),
  })
  .strict();

/** The `run` mode's deadlines, per child (at least one of idle / hard). */
const watchdogSchema = z
  .object({
    /** No stdout/stderr for this long: the child is killed (`TaskExit::Killed`, idle timeout). */
    idleMs: ms.optional(),
    /** One run of the child may last at most this long (hard timeout). */
    hardMs: ms.optional(),
    /** Between SIGTERM and SIGKILL to the tree; overrides the child's `killGraceMs`. */
    killGraceMs: graceMs.optional(),
  })
  .strict()
  .refine((w) => w.idleMs !== undefined || w.hardMs !== undefined, {
    message: 'set idleMs, hardMs or both',
  });

export const childSpecSchema = z
  .object({
    /** Unique; used in logs, events and control commands. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-"'),
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    /** Added to the child's environment (which otherwise holds only the config's `inheritEnv` variables). */
    env: z.record(z.string(), z.string()).default({}),
    /** The child also gets the supervisor's AWS credential variables (AWS_ACCESS_KEY_ID, …). @default false */
    inheritAwsCredentials: z.boolean().default(false),
    /** Working directory. @default the supervisor's */
    cwd: z.string().min(1).optional(),
    /** permanent: always restarted; transient: only after an abnormal exit; temporary: never. */
    restart: z.enum(RESTART_POLICIES).default('permanent'),
    backoff: backoffSchema.default(backoffSchema.parse({})),
    restartBudget: restartBudgetSchema.default(restartBudgetSchema.parse({})),
    /** Between SIGTERM and SIGKILL when the supervisor stops the child's tree. */
    killGraceMs: graceMs.default(2_000),
    watchdog: watchdogSchema.optional(),
  })
  .strict();

export type ChildSpec = z.infer<typeof childSpecSchema>;

export const supervisorConfigSchema = z
  .object({
    /** Environment label of events and the bus (`{environment}` in `reporting.eventBus`). */
    environment: z.string().min(1),
    /** Host label of events. @default os.hostname() */
    host: z.string().min(1).optional(),
    /** The control socket (`runlane-agent ctl`), owner-only (0600). Seed 001 calls it the dashboard IPC. */
    dashboard: z.object({ path: z.string().min(1) }).strict(),
    /** Children's pids and start times, for orphan detection after a crash. Relative to the working directory. */
    pidFile: z.string().min(1).default('.runlane-agent/supervisor.pid.json'),
    /** A `SupervisorHealth` event this often (and on every status change). */
    healthIntervalMs: ms.min(100).default(30_000),
    /** `dashboard_link` is `connected` while the bus acknowledged an event within this window. */
    dashboardLinkWindowMs: ms.default(90_000),
    /** Period of the control loop's tick (it also wakes on every exit). */
    controlLoopIntervalMs: z.number().int().min(10).max(10_000).default(100),
    /**
     * The supervisor's process name (`/proc/<pid>/comm`, what `pgrep -x` matches; at most 15
     * characters). Seed 001 P1-001 step 1 checks `pgrep -x supervisor`.
     */
    processTitle: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,15}$/, 'must be 1-15 letters, digits, ".", "_" or "-" (the kernel keeps 15)')
      .default('supervisor'),
    /**
     * Where a panic writes its crash report (Node's diagnostic report: JavaScript and native
     * stacks, heap, handles, resource usage), seed 001 P1-001 step 3; each report 0600, the folder
     * private (0700, checked at start). @default the pid file's folder (the agent's state folder)
     */
    crashReportDirectory: z.string().min(1).optional(),
    /**
     * Variables of the supervisor's environment every child inherits; nothing else of it (its AWS
     * credentials above all) reaches a child unless the child sets `inheritAwsCredentials`.
     */
    inheritEnv: inheritEnvSchema,
    /** Same fields and defaults as the runner config's `reporting`. */
    reporting: runnerConfigSchema.shape.reporting,
    children: z.array(childSpecSchema).superRefine((children, ctx) => {
      const seen = new Map<string, number>();
      children.forEach((child, index) => {
        const first = seen.get(child.name);
        if (first === undefined) seen.set(child.name, index);
        else
          ctx.addIssue({
            code: 'custom',
            path: [index, 'name'],
            message: `duplicate child name "${child.name}" (also children.${first}.name)`,
          });
      });
    }),
  })
  .strict();

export type SupervisorConfig = z.infer<typeof supervisorConfigSchema>;

/**
 * Validates a parsed supervisor config. Throws one {@link SupervisorConfigError} listing every problem.
 *
 * @example
 * parseSupervisorConfig(JSON.parse(text), 'supervisor.json').children[0]?.restart; // 'permanent'
 */
export function parseSupervisorConfig(raw: unknown, source: string): SupervisorConfig {
  const result = supervisorConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new SupervisorConfigError(source, configIssues(result.error));
}

/**
 * Validates one child spec (an `add-child` command's). Field paths are those of the spec itself
 * (`restartBudget.tokens`).
 */
export function parseChildSpec(raw: unknown, source = 'add-child'): ChildSpec {
  const result = childSpecSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new SupervisorConfigError(source, configIssues(result.error));
}

/** Reads and validates a supervisor config file. */
export async function loadSupervisorConfig(file: string): Promise<SupervisorConfig> {
  // Whoever can write this file decides what the agent runs: refused unless root or the agent's user owns it, not group/other writable.
  await checkConfigFile(file).catch((error: unknown) => {
    if (!(error instanceof HostFileError)) throw error;
    throw new SupervisorConfigError(file, [{ fieldPath: '(file)', message: error.problem }], {
      cause: error,
    });
  });
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new SupervisorConfigError(file, [{ fieldPath: '(file)', message: 'cannot be read' }], {
      cause: error,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new SupervisorConfigError(file, [{ fieldPath: '(root)', message: 'is not valid JSON' }], {
      cause: error,
    });
  }
  return parseSupervisorConfig(raw, file);
}
