import * as z from 'zod';
import type { LaneDefinition } from '#contracts/lanes.js';
import { COMMAND_DEFINITIONS } from '#core/commands/registry.js';
import type { CommandDefinition } from '#core/commands/types.js';

/**
 * Command types that exist only in the local stack, for drills and the demo:
 * `drill.flaky` fails its first `failTimes` executions and then succeeds, so
 * retry-then-recover can be watched. Executions are counted per original
 * command (a replay continues its original's count), in this process, so a
 * dead-lettered drill command succeeds when replayed: the "fix" has landed.
 * They ride on the ingestion lane; producers send them straight to the queue.
 */
export const DRILL_LANE = 'runtime-ingestion-completed';
export const DRILL_FLAKY = 'drill.flaky';

const flakyPayload = z.object({ failTimes: z.number().int().min(0).max(10) }).strict();

export function drillCommands(base: LaneDefinition): {
  readonly commands: ReadonlyMap<string, CommandDefinition>;
  readonly lane: { readonly name: string; readonly commandTypes: readonly string[] };
} {
  const executions = new Map<string, number>();
  const flaky: CommandDefinition<typeof flakyPayload> = {
    commandType: DRILL_FLAKY,
    payloadSchema: flakyPayload,
    async execute({ envelope, payload }) {
      const original = envelope.replayOf ?? envelope.commandId;
      const n = (executions.get(original) ?? 0) + 1;
      executions.set(original, n);
      if (n <= payload.failTimes) throw new Error(`drill failure ${n} of ${payload.failTimes}`);
      return {
        status: 'Completed',
        outcomeCode: 'drill_recovered',
        rationale: `succeeded on execution ${n}`,
      };
    },
  };
  const commands = new Map<string, CommandDefinition>(COMMAND_DEFINITIONS);
  commands.set(DRILL_FLAKY, flaky as CommandDefinition);
  return { commands, lane: { name: base.name, commandTypes: [...base.commandTypes, DRILL_FLAKY] } };
}
