import { z } from 'zod';
import { laneByName } from '#contracts/lanes.js';
import { COMMAND_DEFINITIONS } from '#core/commands/registry.js';
import type { CommandDefinition } from '#core/commands/types.js';

/**
 * Command types that exist only in tests, to drive the worker's failure paths
 * through the real pipeline: they run on the ingestion lane next to the real types.
 */
export const TEST_LANE = 'runtime-ingestion-completed' as const;

const effectPayload = z
  .object({ failTimes: z.number().int().min(0).default(0), tag: z.string().default('x') })
  .strict();

/** Counts handler executions and side effects per commandId, across attempts. */
export class TestCommandProbe {
  public readonly executions = new Map<string, number>();
  public readonly effectCalls = new Map<string, number>();
  public readonly effectsApplied = new Map<string, number>();
  /** Resolved by `test.hang` when it starts, so a test knows the attempt holds the lock. */
  public onHangStarted: (() => void) | undefined;
  /** `test.switch` fails while this is true: a bug that a later deploy fixes. */
  public broken = true;
  /** `test.gate` waits for this before completing. */
  public gate: Promise<void> = Promise.resolve();
  public onGateEntered: (() => void) | undefined;

  public count(map: Map<string, number>, id: string): number {
    const next = (map.get(id) ?? 0) + 1;
    map.set(id, next);
    return next;
  }
}

export function testCommands(probe: TestCommandProbe) {
  const flaky: CommandDefinition<typeof effectPayload> = {
    commandType: 'test.flaky',
    payloadSchema: effectPayload,
    async execute({ envelope, payload }) {
      const n = probe.count(probe.executions, envelope.commandId);
      if (n <= payload.failTimes) throw new Error(`flaky failure ${n} of ${payload.failTimes}`);
      return { status: 'Completed', outcomeCode: 'flaky_done', rationale: `succeeded on execution ${n}` };
    },
  };
  /** Applies a side effect through the real idempotent action port, then fails the first `failTimes` executions. */
  const effectThenFail: CommandDefinition<typeof effectPayload> = {
    commandType: 'test.effect',
    payloadSchema: effectPayload,
    async execute({ envelope, payload, now, deps }) {
      const n = probe.count(probe.executions, envelope.commandId);
      probe.count(probe.effectCalls, envelope.commandId);
      const { executed } = await deps.actions.execute({
        idempotencyKey: `${envelope.commandId}:effect`,
        householdId: envelope.householdId,
        approvalId: 'apr-000000000000000000000000',
        action: { action: 'test_effect', impact: 'low', summary: payload.tag, parameters: {} },
        commandId: envelope.commandId,
        now,
      });
      if (executed) probe.count(probe.effectsApplied, envelope.commandId);
      if (n <= payload.failTimes) throw new Error(`failure after side effect, execution ${n}`);
      return { status: 'Completed', outcomeCode: 'effect_done', rationale: `effect applied=${executed}` };
    },
  };
  /** Never finishes: stands for a Lambda that times out mid-command. */
  const hang: CommandDefinition<typeof effectPayload> = {
    commandType: 'test.hang',
    payloadSchema: effectPayload,
    async execute({ envelope }) {
      const n = probe.count(probe.executions, envelope.commandId);
      if (n === 1) {
        probe.onHangStarted?.();
        return new Promise(() => undefined);
      }
      return { status: 'Completed', outcomeCode: 'took_over', rationale: `completed by execution ${n}` };
    },
  };
  /** Never finishes on any execution: every attempt's process dies (a Lambda that always times out). */
  const stall: CommandDefinition<typeof effectPayload> = {
    commandType: 'test.stall',
    payloadSchema: effectPayload,
    async execute({ envelope }) {
      probe.count(probe.executions, envelope.commandId);
      return new Promise(() => undefined);
    },
  };
  /** Holds its attempt open until the probe's gate opens. */
  const gate: CommandDefinition<typeof effectPayload> = {
    commandType: 'test.gate',
    payloadSchema: effectPayload,
    async execute({ envelope }) {
      const n = probe.count(probe.executions, envelope.commandId);
      probe.onGateEntered?.();
      await probe.gate;
      return { status: 'Completed', outcomeCode: 'gate_passed', rationale: `execution ${n}` };
    },
  };
  const switchable: CommandDefinition<typeof effectPayload> = {
    commandType: 'test.switch',
    payloadSchema: effectPayload,
    async execute({ envelope }) {
      const n = probe.count(probe.executions, envelope.commandId);
      if (probe.broken) throw new Error('bug not fixed yet');
      return { status: 'Completed', outcomeCode: 'switch_fixed', rationale: `execution ${n}` };
    },
  };
  const commands = new Map<string, CommandDefinition>(COMMAND_DEFINITIONS);
  for (const definition of [flaky, effectThenFail, hang, stall, gate, switchable])
    commands.set(definition.commandType, definition as CommandDefinition);
  const base = laneByName(TEST_LANE);
  if (!base) throw new Error('test lane missing');
  return {
    commands,
    lane: {
      name: base.name,
      commandTypes: [
        ...base.commandTypes,
        'test.flaky',
        'test.effect',
        'test.hang',
        'test.stall',
        'test.gate',
        'test.switch',
      ],
    },
  };
}
