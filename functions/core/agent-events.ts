import { z } from 'zod';

/**
 * Events the on-host agent (`runlane-agent`) emits. One definition, shared by the
 * agent (which writes them to `evidence/runner/stall-events.jsonl`) and, later, the
 * ingest Lambda that receives them from the bus.
 */

/** Root-cause categories of a stall (seed 002). */
export const STALL_ROOT_CAUSES = ['io_wait', 'network', 'child_hang', 'lock', 'cpu_starve'] as const;
export type StallRootCause = (typeof STALL_ROOT_CAUSES)[number];

/** Which deadline fired: no output for `idleMs`, or `hardMs` since start. */
export const STALL_TIMEOUTS = ['idle', 'hard'] as const;
export type StallTimeout = (typeof STALL_TIMEOUTS)[number];

/**
 * One stall of a command run under `runlane-agent run`, as one JSON line of the evidence file.
 *
 * @example
 * const event = runnerStallEventSchema.parse(JSON.parse(line));
 * event.rootCause; // 'network'
 */
export const runnerStallEventSchema = z
  .object({
    /** Unique per stall; receivers drop duplicates by it. */
    id: z.uuid(),
    /** When the stall was detected (UTC, ISO 8601). */
    ts: z.iso.datetime({ offset: true }),
    host: z.string().min(1),
    environment: z.string().min(1),
    commandType: z.string().min(1),
    rootCause: z.enum(STALL_ROOT_CAUSES),
    idleMs: z.number().int().positive(),
    hardMs: z.number().int().positive(),
    /** Time from start of the command to the stall's detection. */
    elapsedMs: z.number().int().nonnegative(),
    timeout: z.enum(STALL_TIMEOUTS),
    /** Pid (and process group id) of the command the agent started. */
    pid: z.number().int().positive(),
    /** The output lines and host readings that decided `rootCause`. */
    evidence: z.array(z.string()),
  })
  .strict();

export type RunnerStallEvent = z.infer<typeof runnerStallEventSchema>;
