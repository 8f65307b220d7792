/**
 * Runs the CDK-synthesized `ReplayDrill` state machine definition on this
 * machine with `aws-local-stepfunctions` (DESIGN §4–§5): every Task state —
 * also inside the Map's item processor — is bound to one dispatcher function,
 * called with the payload its `LambdaInvoke` would send (`{ step, input }`);
 * Wait states pause `waitSeconds` (0 by default) instead of their real time.
 *
 * The definition comes from a synthesized template: {@link replayDrillDefinitionFromTemplate}
 * joins the `Fn::Join` of its `DefinitionString` with placeholder ARNs.
 */
import { type RunOptions, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { ReplayDrillInput } from '#contracts/replay-drill.js';

/** The dispatcher's steps (`functions/handlers/replay-drill.ts`). */
export type ReplayDrillStepName =
  | 'readDeadLetters'
  | 'replayMessage'
  | 'verifyRuns'
  | 'duplicateProbe'
  | 'verifyProbe'
  | 'recordEvidence';

/** What a LambdaInvoke Task state sends the dispatcher. */
export interface ReplayDrillEvent {
  readonly step: ReplayDrillStepName;
  readonly input: unknown;
}

/** The dispatcher (the real `handler` or a fake): one step in, that step's output back. */
export type ReplayDrillDispatcher = (event: ReplayDrillEvent) => unknown;

export interface RunReplayDrillLocallyOptions {
  /** ASL definition, e.g. from {@link replayDrillDefinitionFromTemplate}. */
  readonly definition: StateMachineDefinition;
  /** Bound to every Task state. */
  readonly handler: ReplayDrillDispatcher;
  /** Execution input; its `drillId` is also the execution name in the context object. */
  readonly input: ReplayDrillInput;
  /**
   * Every Wait state pauses this long instead of its `Seconds`/`SecondsPath`.
   * @default 0
   */
  readonly waitSeconds?: number;
}

/** A Task state's call, in the order the calls started. */
export interface DispatcherCall {
  readonly state: string;
  readonly step: string;
  readonly input: unknown;
}

export interface LocalDrillRun {
  /** The execution output (the `DrillEvidence` that RecordEvidence returned). */
  readonly output: unknown;
  /** Every dispatcher call. */
  readonly calls: readonly DispatcherCall[];
  /** Names of the states entered, in order (Map iterations interleave). */
  readonly statesEntered: readonly string[];
  /** The library's event log (state entered/exited/caught, map iterations…). */
  readonly events: readonly unknown[];
}

/** Thrown when the execution fails; carries what happened until then. */
export class LocalDrillExecutionError extends Error {
  public constructor(
    message: string,
    public readonly run: Omit<LocalDrillRun, 'output'>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LocalDrillExecutionError';
  }
}

/**
 * Executes `definition` locally with every Task state bound to `handler`.
 *
 * @example
 * const definition = replayDrillDefinitionFromTemplate(Template.fromStack(stack).toJSON());
 * const { output } = await runReplayDrillLocally({ definition, handler, input: { drillId: 'd1', lane, maxMessages: 10, dryRun: false, verifyTimeoutSeconds: 60 } });
 */
export async function runReplayDrillLocally(options: RunReplayDrillLocallyOptions): Promise<LocalDrillRun> {
  const { definition, handler, input } = options;
  const waitMs = Math.max(0, Math.round((options.waitSeconds ?? 0) * 1000));
  const calls: DispatcherCall[] = [];
  const statesEntered: string[] = [];
  const events: unknown[] = [];

  const taskStates = statesOfType(definition, 'Task');
  const taskResourceLocalHandlers: NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers'] = {};
  for (const state of taskStates) {
    taskResourceLocalHandlers[state] = async (payload) => {
      const event = payload as unknown as ReplayDrillEvent;
      if (typeof event !== 'object' || event === null || typeof event.step !== 'string') {
        throw new Error(`Task state ${state} sent no { step, input } payload: ${JSON.stringify(payload)}`);
      }
      calls.push({ state, step: event.step, input: event.input });
      // The dispatcher's answer goes through JSON, as a Lambda response would.
      const result = await handler(event);
      return (result === undefined ? null : JSON.parse(JSON.stringify(result))) as never;
    };
  }
  const waitTimeOverrides = Object.fromEntries(
    statesOfType(definition, 'Wait').map((state) => [state, waitMs]),
  );
  const retryIntervalOverrides = Object.fromEntries(taskStates.map((state) => [state, 0]));

  const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
  const execution = machine.run(JSON.parse(JSON.stringify(input)), {
    overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
    context: {
      Execution: {
        Id: `arn:aws:states:local:000000000000:execution:ReplayDrill:${input.drillId}`,
        Name: input.drillId,
        Input: JSON.parse(JSON.stringify(input)),
        StartTime: new Date().toISOString(),
      },
    },
  });
  const logging = (async () => {
    for await (const event of execution.eventLogs) {
      events.push(event);
      if (event.type === 'StateEntered') statesEntered.push(event.state.name);
    }
  })();
  try {
    const output = await execution.result;
    await logging;
    return { output, calls, statesEntered, events };
  } catch (error) {
    await logging.catch(() => undefined);
    throw new LocalDrillExecutionError(
      `ReplayDrill execution ${input.drillId} failed: ${(error as Error).message}`,
      { calls, statesEntered, events },
      { cause: error },
    );
  }
}

type Json = Record<string, unknown>;

/** Names of every state of `type`, including those in Map item processors and Parallel branches. */
export function statesOfType(definition: { readonly States?: unknown }, type: string): string[] {
  const names: string[] = [];
  for (const [name, state] of Object.entries((definition.States ?? {}) as Record<string, Json>)) {
    if (state.Type === type) names.push(name);
    for (const nested of [state.ItemProcessor, state.Iterator, ...((state.Branches as unknown[]) ?? [])]) {
      if (nested && typeof nested === 'object') names.push(...statesOfType(nested as Json, type));
    }
  }
  return names;
}

export interface TemplateResolveOptions {
  /** Logical-id (or `aws:cdk:path`) fragment naming the state machine. @default 'ReplayDrill' */
  readonly match?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '123456789012' */
  readonly accountId?: string;
}

/**
 * The `ReplayDrill` definition of a synthesized stack template, its
 * `Fn::Join` joined: `Ref`/`Fn::GetAtt` of a resource become placeholder ARNs
 * (`arn:aws:lambda:<region>:<account>:function:<logicalId>`), pseudo parameters
 * their local values.
 *
 * @example
 * replayDrillDefinitionFromTemplate(JSON.parse(readFileSync('cdk.out/Runlane-dev.template.json', 'utf8')));
 */
export function replayDrillDefinitionFromTemplate(
  template: { readonly Resources?: Record<string, unknown> },
  options: TemplateResolveOptions = {},
): StateMachineDefinition {
  const match = options.match ?? 'ReplayDrill';
  const candidates = Object.entries((template.Resources ?? {}) as Record<string, Json>).filter(
    ([logicalId, resource]) =>
      resource.Type === 'AWS::StepFunctions::StateMachine' &&
      (logicalId.includes(match) ||
        String((resource.Metadata as Json | undefined)?.['aws:cdk:path'] ?? '').includes(`/${match}/`)),
  );
  if (candidates.length !== 1) {
    throw new Error(
      `expected one AWS::StepFunctions::StateMachine matching "${match}" in the template, found ${candidates.length}`,
    );
  }
  const [logicalId, resource] = candidates[0] as [string, Json];
  const definitionString = (resource.Properties as Json | undefined)?.DefinitionString;
  const text = resolveIntrinsic(definitionString, {
    region: options.region ?? 'us-east-1',
    accountId: options.accountId ?? '123456789012',
  });
  if (typeof text !== 'string') throw new Error(`${logicalId}: DefinitionString did not resolve to a string`);
  return JSON.parse(text) as StateMachineDefinition;
}

function resolveIntrinsic(value: unknown, env: { region: string; accountId: string }): unknown {
  if (typeof value === 'string' || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsic(item, env));
  const object = value as Json;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => String(resolveIntrinsic(part, env))).join(separator);
  }
  if ('Ref' in object) {
    const ref = String(object.Ref);
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': env.region,
      'AWS::AccountId': env.accountId,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': 'local',
    };
    return pseudo[ref] ?? placeholderArn(ref, env);
  }
  if ('Fn::GetAtt' in object) {
    const [target] = object['Fn::GetAtt'] as [string, string];
    return placeholderArn(target, env);
  }
  throw new Error(`cannot resolve ${JSON.stringify(object)} in a state machine definition`);
}

function placeholderArn(logicalId: string, env: { region: string; accountId: string }): string {
  return `arn:aws:lambda:${env.region}:${env.accountId}:function:${logicalId}`;
}
