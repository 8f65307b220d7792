import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { LANES } from '#contracts/lanes.js';
import { REQUIRED_RUNTIME_ENV, RUNTIME_ENV } from '#contracts/runtime-env.js';
import { CommandLane } from '#lib/lanes/command-lane.js';
import { ReplayDrill, type ReplayDrillProps, REPLAY_DRILL_STATES as S } from '#lib/replay/replay-drill.js';
import { formatSummary, summarizeTemplate } from '#lib/synth/synth-summary.js';
import { actionsOn, laneFixture, roleStatements, thrownMessage } from './support.js';

type Json = Record<string, unknown>;

function build(props: Partial<ReplayDrillProps> = {}) {
  const fixture = laneFixture();
  const lanes = LANES.map(
    (definition) =>
      new CommandLane(fixture.stack, definition.id, {
        lane: definition,
        environmentName: 'test',
        lifecycle: fixture.lifecycle,
        telemetry: fixture.telemetry,
      }),
  );
  const drill = new ReplayDrill(fixture.stack, 'ReplayDrill', {
    environmentName: 'test',
    lanes,
    lifecycle: fixture.lifecycle,
    telemetry: fixture.telemetry,
    ...props,
  });
  return { ...fixture, lanes, drill, template: Template.fromStack(fixture.stack) };
}

/** The state machine's definition with the Fn::Join parts that are not strings replaced by "ARN". */
function definitionOf(template: Template): Json {
  const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  expect(machines).toHaveLength(1);
  const join = (machines[0] as { Properties: { DefinitionString: { 'Fn::Join': [string, unknown[]] } } })
    .Properties.DefinitionString['Fn::Join'];
  return JSON.parse(join[1].map((part) => (typeof part === 'string' ? part : 'ARN')).join(join[0])) as Json;
}

describe('ReplayDrill', () => {
  let built: ReturnType<typeof build>;
  let definition: Json;
  let states: Record<string, Json>;
  let mapStates: Record<string, Json>;

  beforeAll(() => {
    built = build();
    definition = definitionOf(built.template);
    states = definition.States as Record<string, Json>;
    mapStates =
      (states[S.replayEach]?.ItemProcessor as { States?: Record<string, Json> } | undefined)?.States ?? {};
  });

  it('logs no execution data (message bodies) in prod, or where logExecutionData is false', () => {
    for (const props of [{ environmentName: 'prod' }, { logExecutionData: false }]) {
      build(props).template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
      });
    }
  });

  it('is a Standard state machine logging ALL events with execution data (outside prod), with X-Ray tracing', () => {
    built.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      StateMachineName: 'runlane-test-replay-drill',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReplayDrillExecutionLogs'), 'Arn'] },
            },
          },
        ],
      },
    });
    built.template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/vendedlogs/states/runlane-test-replay-drill',
    });
  });

  it('maps over the dead letters with bounded concurrency and a Catch on the item task', () => {
    expect(states[S.replayEach]).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.items',
      MaxConcurrency: 5,
      ItemSelector: { 'drillId.$': '$.drillId', 'dryRun.$': '$.dryRun', 'item.$': '$$.Map.Item.Value' },
      ResultPath: '$.replays',
    });
    expect(mapStates[S.replayMessage]).toMatchObject({
      Type: 'Task',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: S.replayFailedNull }],
    });
    expect(definitionOf(build({ maxConcurrency: 2 }).template).States).toMatchObject({
      [S.replayEach]: { MaxConcurrency: 2 },
    });
  });

  it('turns a caught item error into a failed ReplayMessageOutput', () => {
    for (const name of [S.replayFailedWithId, S.replayFailedWithoutId]) {
      expect(mapStates[name]).toMatchObject({
        Type: 'Pass',
        End: true,
        Parameters: { 'messageId.$': '$.item.messageId', 'newCommandId.$': '$.null.value', status: 'failed' },
      });
    }
  });

  it('invokes one dispatcher per Task with { step, input } and the response payload only', () => {
    const tasks = { ...states, ...mapStates };
    const expected: Record<string, string> = {
      [S.readDeadLetters]: 'readDeadLetters',
      [S.replayMessage]: 'replayMessage',
      [S.verifyRuns]: 'verifyRuns',
      [S.duplicateProbe]: 'duplicateProbe',
      [S.verifyProbe]: 'verifyProbe',
      [S.recordEvidence]: 'recordEvidence',
    };
    const taskNames = Object.entries(tasks)
      .filter(([, state]) => state.Type === 'Task')
      .map(([name]) => name);
    expect(taskNames.sort()).toEqual(Object.keys(expected).sort());
    for (const [name, step] of Object.entries(expected)) {
      // payloadResponseOnly: the Resource is the function ARN itself, not lambda:invoke.
      expect(tasks[name]).toMatchObject({ Resource: 'ARN', Parameters: { step } });
    }
  });

  it('loops Wait → VerifyRuns → Choice and Wait → VerifyProbe → Choice, waits from the state', () => {
    expect(states[S.waitForRuns]).toMatchObject({ Type: 'Wait', SecondsPath: '$.verifyInput.waitSeconds' });
    expect(states[S.runsDone]).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.verification.done', BooleanEquals: true, Next: S.duplicateProbe }],
      Default: S.nextRunsPoll,
    });
    expect(states[S.nextRunsPoll]?.Next).toBe(S.waitForRuns);
    expect(states[S.waitForProbe]).toMatchObject({ Type: 'Wait', SecondsPath: '$.probe.waitSeconds' });
    expect(states[S.probeDone]).toMatchObject({
      Choices: [{ Variable: '$.probe.done', BooleanEquals: true, Next: S.collectEvidence }],
      Default: S.waitForProbe,
    });
    expect(states[S.recordEvidence]?.Next).toBe(S.done);
    expect(states[S.done]).toEqual({ Type: 'Succeed' });
  });

  it('gives the dispatcher its environment', () => {
    const fn = built.template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'runlane-replay-drill' } } },
    });
    const variables = (Object.values(fn)[0] as { Properties: { Environment: { Variables: Json } } })
      .Properties.Environment.Variables;
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining(REQUIRED_RUNTIME_ENV.replayDrill.map((key) => RUNTIME_ENV[key])),
    );
    const lanes = JSON.stringify(variables[RUNTIME_ENV.replayLaneQueues]);
    for (const definition of LANES) {
      expect(lanes).toContain(definition.name);
      expect(lanes).toContain(`${definition.id}Queue`);
      expect(lanes).toContain(`${definition.id}DeadLetterQueue`);
    }
  });

  it("limits the dispatcher to the lanes' queues (send) and DLQs (read/delete), the table and the bus", () => {
    const statements = roleStatements(built.template, /^ReplayDrillDispatcherRole/);
    for (const definition of LANES) {
      expect(actionsOn(statements, new RegExp(`"${definition.id}Queue[0-9A-F]{8}"`))).toEqual([
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
      ]);
      expect(actionsOn(statements, new RegExp(`"${definition.id}DeadLetterQueue[0-9A-F]{8}"`))).toEqual([
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ReceiveMessage',
      ]);
    }
    expect(actionsOn(statements, /LifecycleTable/)).toEqual(expect.arrayContaining(['dynamodb:PutItem']));
    expect(actionsOn(statements, /LifecycleTable/)).not.toContain('dynamodb:DeleteTable');
    expect(actionsOn(statements, /TelemetryBus/)).toEqual(['events:PutEvents']);
    const resources = statements.map((statement) => JSON.stringify(statement.Resource));
    for (const resource of resources) {
      expect(resource).toMatch(/Queue|LifecycleTable|TelemetryBus|DispatcherLogGroup|^"\*"$/);
    }
    const wildcard = statements.filter((statement) => statement.Resource === '*').flatMap((s) => s.Action);
    expect(wildcard.every((action) => String(action).startsWith('xray:'))).toBe(true);
  });

  it('lets the state machine invoke only the dispatcher (plus log delivery and X-Ray)', () => {
    const statements = roleStatements(built.template, /^ReplayDrillStateMachineRole/);
    const invoke = statements.filter((statement) => JSON.stringify(statement.Action).includes('lambda:'));
    expect(invoke.flatMap((s) => s.Action)).toEqual(['lambda:InvokeFunction']);
    expect(JSON.stringify(invoke[0]?.Resource)).toMatch(/ReplayDrillDispatcherFunction/);
    for (const statement of statements.filter((s) => s.Resource === '*')) {
      for (const action of [statement.Action].flat()) expect(action).toMatch(/^(logs|xray):/);
    }
  });

  it('passes cdk-nag (AwsSolutions, Serverless) with only reasoned acknowledgements', () => {
    const packs = [new AwsSolutionsChecks(), new ServerlessChecks()];
    const found = packs.flatMap((pack) =>
      pack
        .validateScope(built.stack)
        .violations.flatMap((violation) =>
          violation.violatingResources
            .map((resource) => `${violation.ruleName} ${resource.constructPath}`)
            .filter((line) => line.includes('/ReplayDrill/')),
        ),
    );
    expect(found).toEqual([]);
  });

  it('rejects impossible props', () => {
    const message = thrownMessage(() => build({ maxConcurrency: 0, initialVerifyWaitSeconds: 0.5 }));
    expect(message).toMatch(/maxConcurrency/);
    expect(message).toMatch(/initialVerifyWaitSeconds/);
    expect(thrownMessage(() => build({ lanes: [] }))).toMatch(/lanes/);
  });
});

describe('synth summary', () => {
  it('lists the replay drill state machine', () => {
    const { template } = build({ maxConcurrency: 3 });
    const summary = summarizeTemplate('Test', template.toJSON());
    expect(summary.stateMachines).toEqual([
      {
        name: 'runlane-test-replay-drill',
        type: 'STANDARD',
        logLevel: 'ALL',
        tracing: true,
        states: expect.any(Number),
        mapMaxConcurrency: [3],
      },
    ]);
    expect(formatSummary(summary)).toMatch(
      /state machines \(1\):\n {4}runlane-test-replay-drill {2}STANDARD {2}logging ALL {2}tracing on {2}states \d+ {2}map maxConcurrency 3/,
    );
  });
});
