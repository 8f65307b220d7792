/**
 * Reads a synthesized cloud assembly (`cdk.out`) and summarises each Runlane
 * stack: lanes, tables, alarms, state machines, API routes, and the cdk-nag validation report.
 * Pure functions over the JSON files; used by `lib/synth/synth-all.ts` and its tests.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type Json = Record<string, unknown>;

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Json;
}

export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
}

export interface LaneSummary {
  readonly lane: string;
  readonly queue: string;
  readonly deadLetterQueue: string;
  readonly deadLetterRetentionSeconds: number | null;
  /** The queue's redrive `maxReceiveCount`: the worker's final attempt plus `LANE_GRACE_RECEIVES`. */
  readonly maxReceiveCount: number | null;
  readonly batchSize: number | null;
  readonly maxBatchingWindowSeconds: number | null;
  readonly maxConcurrency: number | null;
  readonly visibilityTimeoutSeconds: number | null;
  readonly functionTimeoutSeconds: number | null;
  readonly runtime: string | null;
}

export interface TableSummary {
  readonly logicalId: string;
  readonly keys: string;
  readonly timeToLiveAttribute: string | null;
  readonly pointInTimeRecovery: boolean;
  readonly indexes: readonly { readonly name: string; readonly keys: string; readonly projection: string }[];
}

export interface RouteSummary {
  readonly routeKey: string;
  readonly authorization: string;
}

/** A Step Functions state machine (e.g. the replay drill). */
export interface StateMachineSummary {
  readonly name: string;
  readonly type: string;
  readonly logLevel: string;
  readonly tracing: boolean;
  /** States in the definition, nested ones (Map item processors) included; null if unreadable. */
  readonly states: number | null;
  /** MaxConcurrency of each Map state, in definition order. */
  readonly mapMaxConcurrency: readonly number[];
}

/** Alarms grouped by the SNS topic their ALARM action notifies. */
export interface AlarmTopicSummary {
  /** The topic's name, or `(none)` for alarms without an action. */
  readonly topic: string;
  readonly alarms: number;
  readonly subscriptions: number;
}

export interface StackSummary {
  readonly stackName: string;
  readonly environment: string | null;
  readonly region: string | null;
  readonly lanes: readonly LaneSummary[];
  readonly tables: readonly TableSummary[];
  /** Every `AWS::CloudWatch::Alarm` and `AWS::CloudWatch::CompositeAlarm` in the template. */
  readonly alarms: number;
  readonly alarmTopics: readonly AlarmTopicSummary[];
  readonly dashboards: readonly string[];
  readonly stateMachines: readonly StateMachineSummary[];
  readonly routes: readonly RouteSummary[];
  readonly throttle: { readonly rateLimit: number | null; readonly burstLimit: number | null } | null;
}

export interface NagFinding {
  readonly plugin: string;
  readonly rule: string;
  readonly severity: string;
  readonly constructPaths: readonly string[];
}

export interface StackArtifact {
  readonly stackName: string;
  readonly templateFile: string;
  readonly region: string | null;
}

/** Stacks listed in the assembly manifest. */
export function listStacks(outdir: string): StackArtifact[] {
  const manifest = readJson(join(outdir, 'manifest.json'));
  const artifacts = (manifest.artifacts ?? {}) as Record<string, Json>;
  return Object.entries(artifacts)
    .filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack')
    .map(([id, artifact]) => {
      const properties = (artifact.properties ?? {}) as Json;
      const environment = typeof artifact.environment === 'string' ? artifact.environment : '';
      const region = environment.split('/').pop() ?? '';
      return {
        stackName: typeof properties.stackName === 'string' ? properties.stackName : id,
        templateFile: join(outdir, String(properties.templateFile)),
        region: region && region !== 'unknown-region' ? region : null,
      };
    });
}

/**
 * Every violation in the assembly's validation report (`validation-report.json`),
 * errors and warnings alike. Acknowledged rules are not reported by cdk-nag.
 */
export function readNagFindings(outdir: string): NagFinding[] {
  const file = join(outdir, 'validation-report.json');
  if (!existsSync(file)) return [];
  const report = readJson(file);
  const pluginReports = (report.pluginReports ?? []) as Json[];
  return pluginReports.flatMap((pluginReport) =>
    ((pluginReport.violations ?? []) as Json[]).map((violation) => ({
      plugin: String(pluginReport.pluginName),
      rule: String(violation.ruleName),
      severity: String(violation.severity),
      constructPaths: ((violation.violatingConstructs ?? violation.violatingResources ?? []) as Json[]).map(
        (resource) => String(resource.constructPath ?? resource.resourceLogicalId ?? '?'),
      ),
    })),
  );
}

/** Summarises one synthesized Runlane stack template. */
export function summarizeTemplate(
  stackName: string,
  template: CfnTemplate,
  region: string | null = null,
): StackSummary {
  const resources = template.Resources ?? {};
  const byType = (type: string) =>
    Object.entries(resources).filter(([, resource]) => resource.Type === type) as [string, CfnResource][];
  const props = (resource: CfnResource | undefined): Json => resource?.Properties ?? {};

  const functions = new Map(byType('AWS::Lambda::Function'));
  const queues = new Map(byType('AWS::SQS::Queue'));
  const lanes: LaneSummary[] = byType('AWS::Lambda::EventSourceMapping').flatMap(([, mapping]) => {
    const queueId = getAttTarget(props(mapping).EventSourceArn);
    const functionId = refTarget(props(mapping).FunctionName);
    const queue = queueId ? queues.get(queueId) : undefined;
    if (!queue) return [];
    const fn = functionId ? functions.get(functionId) : undefined;
    const redrive = (props(queue).RedrivePolicy ?? {}) as Json;
    const dlqId = getAttTarget(redrive.deadLetterTargetArn);
    const dlq = dlqId ? queues.get(dlqId) : undefined;
    const environment = ((props(fn).Environment as Json | undefined)?.Variables ?? {}) as Json;
    const scaling = (props(mapping).ScalingConfig ?? {}) as Json;
    return [
      {
        lane: typeof environment.LANE_NAME === 'string' ? environment.LANE_NAME : String(queueId),
        queue: String(props(queue).QueueName ?? queueId),
        deadLetterQueue: String(props(dlq).QueueName ?? dlqId ?? '(none)'),
        deadLetterRetentionSeconds: numberOrNull(props(dlq).MessageRetentionPeriod),
        maxReceiveCount: numberOrNull(redrive.maxReceiveCount),
        batchSize: numberOrNull(props(mapping).BatchSize),
        maxBatchingWindowSeconds: numberOrNull(props(mapping).MaximumBatchingWindowInSeconds),
        maxConcurrency: numberOrNull(scaling.MaximumConcurrency),
        visibilityTimeoutSeconds: numberOrNull(props(queue).VisibilityTimeout),
        functionTimeoutSeconds: numberOrNull(props(fn).Timeout),
        runtime: typeof props(fn).Runtime === 'string' ? (props(fn).Runtime as string) : null,
      },
    ];
  });
  lanes.sort((a, b) => a.lane.localeCompare(b.lane));

  const tables: TableSummary[] = [
    ...byType('AWS::DynamoDB::GlobalTable'),
    ...byType('AWS::DynamoDB::Table'),
  ].map(([logicalId, table]) => {
    const p = props(table);
    const replicas = (p.Replicas ?? []) as Json[];
    const pitr =
      ((p.PointInTimeRecoverySpecification as Json | undefined)?.PointInTimeRecoveryEnabled ??
        (replicas[0]?.PointInTimeRecoverySpecification as Json | undefined)?.PointInTimeRecoveryEnabled) ===
      true;
    const ttl = p.TimeToLiveSpecification as Json | undefined;
    return {
      logicalId,
      keys: keySchema(p.KeySchema),
      timeToLiveAttribute: ttl?.Enabled === true ? String(ttl.AttributeName) : null,
      pointInTimeRecovery: pitr,
      indexes: ((p.GlobalSecondaryIndexes ?? []) as Json[]).map((index) => ({
        name: String(index.IndexName),
        keys: keySchema(index.KeySchema),
        projection: String((index.Projection as Json | undefined)?.ProjectionType ?? '?'),
      })),
    };
  });

  const routes: RouteSummary[] = byType('AWS::ApiGatewayV2::Route')
    .map(([, route]) => ({
      routeKey: String(props(route).RouteKey),
      authorization: String(props(route).AuthorizationType ?? 'NONE'),
    }))
    .sort((a, b) => a.routeKey.localeCompare(b.routeKey));
  const stage = byType('AWS::ApiGatewayV2::Stage')[0]?.[1];
  const routeSettings = props(stage).DefaultRouteSettings as Json | undefined;

  const lifecycleEnvironment = [...functions.values()]
    .map((fn) => ((props(fn).Environment as Json | undefined)?.Variables ?? {}) as Json)
    .find((variables) => typeof variables.RUNLANE_ENVIRONMENT === 'string');

  const alarmResources = [...byType('AWS::CloudWatch::Alarm'), ...byType('AWS::CloudWatch::CompositeAlarm')];
  const topics = new Map(byType('AWS::SNS::Topic'));
  const subscriptions = byType('AWS::SNS::Subscription');
  const topicName = (logicalId: string | undefined): string =>
    logicalId === undefined ? '(none)' : String(props(topics.get(logicalId)).TopicName ?? logicalId);
  const alarmsByTopic = new Map<string | undefined, number>();
  for (const [, alarm] of alarmResources) {
    const actions = (props(alarm).AlarmActions ?? []) as unknown[];
    const targets = actions.length > 0 ? actions.map(refTarget) : [undefined];
    for (const target of new Set(targets)) alarmsByTopic.set(target, (alarmsByTopic.get(target) ?? 0) + 1);
  }
  const alarmTopics: AlarmTopicSummary[] = [...alarmsByTopic.entries()]
    .map(([logicalId, count]) => ({
      topic: topicName(logicalId),
      alarms: count,
      subscriptions: subscriptions.filter(([, sub]) => refTarget(props(sub).TopicArn) === logicalId).length,
    }))
    .sort((a, b) => a.topic.localeCompare(b.topic));
  const dashboards = byType('AWS::CloudWatch::Dashboard')
    .map(([logicalId, dashboard]) => String(props(dashboard).DashboardName ?? logicalId))
    .sort();

  const stateMachines: StateMachineSummary[] = byType('AWS::StepFunctions::StateMachine')
    .map(([logicalId, machine]) => {
      const p = props(machine);
      const definition = parseDefinition(p.DefinitionString);
      return {
        name: String(p.StateMachineName ?? logicalId),
        type: String(p.StateMachineType ?? 'STANDARD'),
        logLevel: String((p.LoggingConfiguration as Json | undefined)?.Level ?? 'OFF'),
        tracing: (p.TracingConfiguration as Json | undefined)?.Enabled === true,
        states: definition ? countStates(definition) : null,
        mapMaxConcurrency: definition ? mapConcurrency(definition) : [],
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));

  return {
    stackName,
    environment: lifecycleEnvironment ? String(lifecycleEnvironment.RUNLANE_ENVIRONMENT) : null,
    region,
    lanes,
    tables,
    alarms: alarmResources.length,
    alarmTopics,
    dashboards,
    stateMachines,
    routes,
    throttle: stage
      ? {
          rateLimit: numberOrNull(routeSettings?.ThrottlingRateLimit),
          burstLimit: numberOrNull(routeSettings?.ThrottlingBurstLimit),
        }
      : null,
  };
}

/** Human-readable summary of one stack. */
export function formatSummary(summary: StackSummary): string {
  const lines = [`${summary.stackName} (${summary.environment ?? '?'}, ${summary.region ?? 'any region'})`];
  lines.push(`  lanes (${summary.lanes.length}):`);
  for (const lane of summary.lanes) {
    lines.push(
      `    ${lane.lane}`,
      `      queue ${lane.queue}  visibility ${seconds(lane.visibilityTimeoutSeconds)}`,
      `      dlq   ${lane.deadLetterQueue}  redrive after ${lane.maxReceiveCount ?? '?'} receives  retention ${seconds(lane.deadLetterRetentionSeconds)}`,
      `      worker ${lane.runtime ?? '?'}  timeout ${seconds(lane.functionTimeoutSeconds)}  batch ${lane.batchSize ?? '?'}  window ${seconds(lane.maxBatchingWindowSeconds)}  maxConcurrency ${lane.maxConcurrency ?? '?'}`,
    );
  }
  lines.push(`  tables (${summary.tables.length}):`);
  for (const table of summary.tables) {
    lines.push(
      `    ${table.logicalId}  keys ${table.keys}  TTL ${table.timeToLiveAttribute ?? 'off'}  PITR ${table.pointInTimeRecovery ? 'on' : 'off'}`,
    );
    for (const index of table.indexes) {
      lines.push(`      GSI ${index.name}  keys ${index.keys}  projection ${index.projection}`);
    }
  }
  lines.push(`  alarms: ${summary.alarms}`);
  for (const topic of summary.alarmTopics) {
    lines.push(`    ${topic.alarms} → ${topic.topic}  (${topic.subscriptions} subscription(s))`);
  }
  lines.push(`  dashboards: ${summary.dashboards.length > 0 ? summary.dashboards.join(', ') : 'none'}`);
  lines.push(`  state machines (${summary.stateMachines.length}):`);
  for (const machine of summary.stateMachines) {
    const maps =
      machine.mapMaxConcurrency.length > 0
        ? `  map maxConcurrency ${machine.mapMaxConcurrency.join('/')}`
        : '';
    lines.push(
      `    ${machine.name}  ${machine.type}  logging ${machine.logLevel}  tracing ${machine.tracing ? 'on' : 'off'}  states ${machine.states ?? '?'}${maps}`,
    );
  }
  const throttle = summary.throttle
    ? `  throttle ${summary.throttle.rateLimit ?? '?'} rps / burst ${summary.throttle.burstLimit ?? '?'}`
    : '';
  lines.push(`  API routes (${summary.routes.length})${throttle}:`);
  for (const route of summary.routes) lines.push(`    ${route.routeKey}  [${route.authorization}]`);
  return lines.join('\n');
}

/** A `DefinitionString` (plain or `Fn::Join`), with the non-literal parts as placeholders. */
function parseDefinition(value: unknown): Json | null {
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  const join = (value as Json | undefined)?.['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    text = (join[1] as unknown[]).map((part) => (typeof part === 'string' ? part : 'TOKEN')).join(join[0]);
  }
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as Json;
  } catch {
    return null;
  }
}

function nestedDefinitions(state: Json): Json[] {
  return [state.ItemProcessor, state.Iterator, ...((state.Branches as unknown[] | undefined) ?? [])].filter(
    (nested): nested is Json => typeof nested === 'object' && nested !== null,
  );
}

function countStates(definition: Json): number {
  return Object.values((definition.States ?? {}) as Record<string, Json>).reduce(
    (count, state) =>
      count + 1 + nestedDefinitions(state).reduce((sum, nested) => sum + countStates(nested), 0),
    0,
  );
}

function mapConcurrency(definition: Json): number[] {
  return Object.values((definition.States ?? {}) as Record<string, Json>).flatMap((state) => [
    ...(state.Type === 'Map' && typeof state.MaxConcurrency === 'number' ? [state.MaxConcurrency] : []),
    ...nestedDefinitions(state).flatMap(mapConcurrency),
  ]);
}

function readJson(file: string): Json {
  return JSON.parse(readFileSync(file, 'utf8')) as Json;
}

function getAttTarget(value: unknown): string | undefined {
  const getAtt = (value as Json | undefined)?.['Fn::GetAtt'];
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
}

function refTarget(value: unknown): string | undefined {
  const ref = (value as Json | undefined)?.Ref;
  return typeof ref === 'string' ? ref : undefined;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}

function keySchema(value: unknown): string {
  return ((value ?? []) as Json[]).map((key) => String(key.AttributeName)).join('/');
}

function seconds(value: number | null): string {
  return value === null ? '?' : `${value}s`;
}
