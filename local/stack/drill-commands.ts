import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as z from 'zod';
import type { CommandEnvelope } from '#contracts/envelope.js';
import type { LaneDefinition } from '#contracts/lanes.js';
import { COMMAND_DEFINITIONS } from '#core/commands/registry.js';
import type { CommandDefinition } from '#core/commands/types.js';

/**
 * Command types that exist only in the local stack, for drills, the demo and the chaos soak:
 * - `drill.flaky` fails its first `failTimes` executions and then succeeds, so retry-then-recover
 *   can be watched. Executions are counted per original command (a replay continues its
 *   original's count), in this process, so a dead-lettered drill command succeeds when replayed:
 *   the "fix" has landed.
 * - `drill.hang` never returns on the attempts listed in `hangOnAttempts` (the run's attempt
 *   number, kept in DynamoDB, so it survives a restart): the invocation runs past the lane
 *   function timeout, as a Lambda that hangs, runs out of memory or crashes would. Attempts up
 *   to `failTimes` fail; any other attempt succeeds. `{ failTimes: 4, hangOnAttempts: [5] }`
 *   with the default 5 receives makes the final receive time out.
 *
 * With a data folder, every execution appends one JSON line to `drill-effects.jsonl` in it
 * (`DRILL_EFFECTS_FILE`): `kind` `effect` for the execution that succeeded (the command's side
 * effect), `failed` or `hang` otherwise, with the attempt and the stack's pid, so a soak can
 * count each command's side effects across kills and restarts.
 * They ride on the ingestion lane; producers send them straight to the queue.
 */
export const DRILL_LANE = 'runtime-ingestion-completed';
export const DRILL_FLAKY = 'drill.flaky';
export const DRILL_HANG = 'drill.hang';
/** The side-effect log of the drill commands, in the stack's data folder. */
export const DRILL_EFFECTS_FILE = 'drill-effects.jsonl';

/** One line of `drill-effects.jsonl`. */
export interface DrillExecution {
  readonly kind: 'effect' | 'failed' | 'hang';
  readonly commandId: string;
  /** The command whose effect this is: `replayOf` for a replay, else the commandId. */
  readonly effectKey: string;
  readonly commandType: string;
  /** The run's attempt number when the handler ran. */
  readonly attempt: number;
  /** The local stack's process: it changes on every restart. */
  readonly pid: number;
  readonly at: string;
}

const flakyPayload = z.object({ failTimes: z.number().int().min(0).max(10) }).strict();
const hangPayload = z
  .object({
    hangOnAttempts: z.array(z.number().int().min(1).max(20)).min(1).max(20),
    failTimes: z.number().int().min(0).max(20).optional(),
  })
  .strict();

export interface DrillOptions {
  /**
   * The stack's data folder: executions are logged to `drill-effects.jsonl` in it.
   * @default undefined (nothing is logged)
   */
  readonly dataDir?: string | undefined;
}

export function drillCommands(
  base: LaneDefinition,
  options: DrillOptions = {},
): {
  readonly commands: ReadonlyMap<string, CommandDefinition>;
  readonly lane: { readonly name: string; readonly commandTypes: readonly string[] };
} {
  const record = executionLog(options.dataDir);
  const executions = new Map<string, number>();
  const flaky: CommandDefinition<typeof flakyPayload> = {
    commandType: DRILL_FLAKY,
    payloadSchema: flakyPayload,
    async execute({ envelope, payload, attempt }) {
      const original = envelope.replayOf ?? envelope.commandId;
      const n = (executions.get(original) ?? 0) + 1;
      executions.set(original, n);
      if (n <= payload.failTimes) {
        record('failed', envelope, attempt);
        throw new Error(`drill failure ${n} of ${payload.failTimes}`);
      }
      record('effect', envelope, attempt);
      return {
        status: 'Completed',
        outcomeCode: 'drill_recovered',
        rationale: `succeeded on execution ${n}`,
      };
    },
  };
  const hang: CommandDefinition<typeof hangPayload> = {
    commandType: DRILL_HANG,
    payloadSchema: hangPayload,
    async execute({ envelope, payload, attempt }) {
      if (payload.hangOnAttempts.includes(attempt)) {
        record('hang', envelope, attempt);
        // Never settles: the event source mapping times the invocation out, and nothing this
        // attempt would have done happens (a Lambda past its timeout is stopped).
        return new Promise<never>(() => undefined);
      }
      if (attempt <= (payload.failTimes ?? 0)) {
        record('failed', envelope, attempt);
        throw new Error(`drill failure on attempt ${attempt} of ${payload.failTimes}`);
      }
      record('effect', envelope, attempt);
      return {
        status: 'Completed',
        outcomeCode: 'drill_recovered',
        rationale: `succeeded on attempt ${attempt}`,
      };
    },
  };
  const commands = new Map<string, CommandDefinition>(COMMAND_DEFINITIONS);
  commands.set(DRILL_FLAKY, flaky as CommandDefinition);
  commands.set(DRILL_HANG, hang as CommandDefinition);
  return {
    commands,
    lane: { name: base.name, commandTypes: [...base.commandTypes, DRILL_FLAKY, DRILL_HANG] },
  };
}

/** Appends one line per execution (synchronously: the line is written before the handler returns). */
function executionLog(
  dataDir: string | undefined,
): (kind: DrillExecution['kind'], envelope: CommandEnvelope, attempt: number) => void {
  if (dataDir === undefined) return () => undefined;
  const folder = resolve(dataDir);
  const file = join(folder, DRILL_EFFECTS_FILE);
  mkdirSync(folder, { recursive: true });
  return (kind, envelope, attempt) => {
    const line: DrillExecution = {
      kind,
      commandId: envelope.commandId,
      effectKey: envelope.replayOf ?? envelope.commandId,
      commandType: envelope.commandType,
      attempt,
      pid: process.pid,
      at: new Date().toISOString(),
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  };
}
