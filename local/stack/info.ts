/**
 * What a running local stack tells about itself (`/_local/info`, the CLI's banner, tests), and
 * the SDK environment that points a process at it.
 */
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../emulators/clients.js';
import { LOCAL_BUS_NAME, LOCAL_ENVIRONMENT, LOCAL_TABLE_NAME } from './options.js';
import type { LaneQueues } from './provision.js';
import type { StackResources } from './resources.js';
import type { LocalWorkerRuntime, LocalWorkersInfo, ResolvedLocalWorkerOptions } from './workers.js';

export interface LocalStackInfo {
  readonly apiUrl: string;
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  readonly eventsEndpoint: string;
  readonly region: string;
  readonly tableName: string;
  readonly busName: string;
  readonly dataDir: string | null;
  /**
   * The auth folder: the local JWT issuer's key and the IAM credentials of the operator and the
   * workers (0600 files: only the user running the stack can read them). `runlane token` and
   * local clients sign with what is in it.
   */
  readonly authDir: string;
  readonly lanes: Record<string, LaneQueues>;
  /** Receives before a lane dead-letters a command. */
  readonly maxReceiveCount: number;
  /** Where the runner event ingest puts the agent events it refuses, with their reason. */
  readonly runnerEventDeadLetterQueueUrl: string;
  /** Worker delegation (seed 004): the environment name, each site's task lane, the `WORKER_*` settings. */
  readonly workers: LocalWorkersInfo;
}

export interface StackInfoParts {
  readonly endpoints: Pick<LocalStackInfo, 'apiUrl' | 'dynamoEndpoint' | 'sqsEndpoint' | 'eventsEndpoint'>;
  readonly dataDir: string | undefined;
  readonly authDir: string;
  readonly maxReceiveCount: number;
  readonly resources: StackResources;
  readonly workerOptions: ResolvedLocalWorkerOptions;
  readonly workerRuntime: LocalWorkerRuntime;
}

/** Assembles the info once every subsystem is up. */
export function stackInfo(parts: StackInfoParts): LocalStackInfo {
  const { endpoints, resources, workerRuntime } = parts;
  return {
    apiUrl: endpoints.apiUrl,
    dynamoEndpoint: endpoints.dynamoEndpoint,
    sqsEndpoint: endpoints.sqsEndpoint,
    eventsEndpoint: endpoints.eventsEndpoint,
    region: LOCAL_REGION,
    tableName: LOCAL_TABLE_NAME,
    busName: LOCAL_BUS_NAME,
    dataDir: parts.dataDir ?? null,
    authDir: parts.authDir,
    lanes: resources.lanes,
    maxReceiveCount: parts.maxReceiveCount,
    runnerEventDeadLetterQueueUrl: resources.runnerEventDlq.queueUrl,
    workers: {
      environment: LOCAL_ENVIRONMENT,
      sites: resources.workerLanes,
      delegationEnabledDefault: workerRuntime.settings.delegationEnabledDefault,
      heartbeatStaleMultiple: workerRuntime.settings.heartbeatStaleMultiple,
      stuckTaskMinutes: parts.workerOptions.stuckTaskMinutes,
      runtimeEnvironment: workerRuntime.runtimeEnvironment,
      eventsDeadLetterQueueUrl: resources.workerEventDlq.queueUrl,
    },
  };
}

/**
 * The AWS SDK variables that point a process (an agent, a script) at the stack's emulators.
 *
 * @example
 * spawn('runlane-agent', ['run', ...], { env: { ...process.env, ...LOCAL_SDK_ENVIRONMENT(stack.info) } });
 */
export const LOCAL_SDK_ENVIRONMENT = (info: LocalStackInfo) => ({
  AWS_REGION: info.region,
  AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  AWS_ENDPOINT_URL_DYNAMODB: info.dynamoEndpoint,
  AWS_ENDPOINT_URL_SQS: info.sqsEndpoint,
  AWS_ENDPOINT_URL_EVENTBRIDGE: info.eventsEndpoint,
});
