import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { LANES } from '#contracts/lanes.js';
import { loadRunlaneConfig } from '#lib/config/cdk-json.js';
import { ENVIRONMENT_NAMES, type EnvironmentName } from '#lib/config/environment-config.js';
import { createDocumentClient } from '#wiring/clients.js';
import type { ReplaySettings } from '#wiring/replay.js';

/** What a CLI command talks to: the local stack or a deployed environment. */
export interface Target {
  readonly description: string;
  /** Deployed environments only: the ReplayDrill state machine and the region. */
  readonly stateMachineArn?: string;
  readonly region?: string;
  readonly settings: ReplaySettings;
  readonly clients: {
    readonly documents: ReturnType<typeof createDocumentClient>;
    readonly sqs: SQSClient;
    readonly eventBridge: EventBridgeClient;
  };
}

/** A deployed environment's stack, found by name in its region. */
export interface DeployedStack {
  readonly stackName: string;
  readonly region: string;
  /** The client that read the stack (its credentials serve for signing, too). */
  readonly cloudFormation: CloudFormationClient;
  readonly outputs: ReadonlyMap<string, string>;
  /** The output `key`; throws when the stack has none (not deployed, or an older version). */
  need(key: string): string;
}

/**
 * The stack `Runlane-<env>` in the region cdk.json gives `env`, with its outputs. `env` must be
 * one of ENVIRONMENT_NAMES (callers check it and say so in their own words).
 */
export async function describeDeployedStack(env: EnvironmentName): Promise<DeployedStack> {
  const region = loadRunlaneConfig().environments[env].region;
  const stackName = `Runlane-${env}`;
  const cloudFormation = new CloudFormationClient({ region });
  const result = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
  const outputs = new Map(
    (result.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
  );
  return {
    stackName,
    region,
    cloudFormation,
    outputs,
    need: (key) => {
      const value = outputs.get(key);
      if (!value) throw new Error(`stack ${stackName} has no ${key} output (is it deployed?)`);
      return value;
    },
  };
}

/**
 * `--env <name>`: the stack `Runlane-<name>` in the environment's region, found
 * through its outputs. Otherwise the local stack at `apiUrl` (its /_local/info).
 */
export async function resolveTarget(options: {
  readonly apiUrl: string;
  readonly env?: string | undefined;
}): Promise<Target> {
  if (options.env) {
    if (!(ENVIRONMENT_NAMES as readonly string[]).includes(options.env)) {
      throw new Error(`--env must be one of ${ENVIRONMENT_NAMES.join(', ')}`);
    }
    const { stackName, region, outputs, need } = await describeDeployedStack(options.env as EnvironmentName);
    return {
      description: `${stackName} (${region})`,
      region,
      ...(outputs.get('ReplayDrillStateMachineArn')
        ? { stateMachineArn: outputs.get('ReplayDrillStateMachineArn') }
        : {}),
      settings: {
        tableName: need('LifecycleTableName'),
        busName: need('TelemetryBusName'),
        retentionDays: 30,
        lanes: Object.fromEntries(
          LANES.map((l) => [
            l.name,
            { queueUrl: need(`${l.id}QueueUrl`), dlqUrl: need(`${l.id}DeadLetterQueueUrl`) },
          ]),
        ),
      },
      clients: {
        documents: createDocumentClient(new DynamoDBClient({ region })),
        sqs: new SQSClient({ region }),
        eventBridge: new EventBridgeClient({ region }),
      },
    };
  }
  const response = await fetch(`${options.apiUrl}/_local/info`).catch(() => undefined);
  if (!response?.ok)
    throw new Error(`no local stack answers at ${options.apiUrl}; start one with npm start, or pass --env`);
  const info = (await response.json()) as {
    dynamoEndpoint: string;
    sqsEndpoint: string;
    eventsEndpoint: string;
    tableName: string;
    busName: string;
    lanes: Record<string, { queueUrl: string; dlqUrl: string }>;
  };
  const { localDynamoDbClient, localEventBridgeClient, localSqsClient } = await import(
    '#local/emulators/clients.js'
  );
  return {
    description: `local stack ${options.apiUrl}`,
    settings: {
      tableName: info.tableName,
      busName: info.busName,
      retentionDays: 30,
      lanes: Object.fromEntries(
        Object.entries(info.lanes).map(([lane, q]) => [lane, { queueUrl: q.queueUrl, dlqUrl: q.dlqUrl }]),
      ),
    },
    clients: {
      documents: createDocumentClient(localDynamoDbClient(info.dynamoEndpoint)),
      sqs: localSqsClient(info.sqsEndpoint),
      eventBridge: localEventBridgeClient(info.eventsEndpoint),
    },
  };
}
