import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { API_ROUTES } from '#contracts/api-routes.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import {
  type ApiSettings,
  DEFAULT_API_SETTINGS,
  DEFAULT_LIFECYCLE_SETTINGS,
} from '../config/environment-config.js';
import { API_FUNCTION_DEFAULTS, HANDLER_ENTRIES, LOG_GROUP_DEFAULTS, namePrefixFor } from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import type { CommandLane } from '../lanes/command-lane.js';
import { RunlaneFunction } from '../runlane-function.js';
import type { LifecycleStorage } from '../storage/lifecycle-storage.js';
import { TABLE_ACCESS } from '../storage/table-access.js';

/** The routes of the command API; all go to the one api function (Lambda proxy, payload 2.0). */
export const COMMAND_API_ROUTES = Object.values(API_ROUTES).map((route) => ({
  method: apigwv2.HttpMethod[route.method],
  path: route.path,
}));

/** Fields of each access log line (JSON), from the HTTP API `$context` variables. */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  routeKey: '$context.routeKey',
  status: '$context.status',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationStatus: '$context.integrationStatus',
  integrationErrorMessage: '$context.integrationErrorMessage',
  errorMessage: '$context.error.message',
  callerAccountId: '$context.identity.accountId',
  callerArn: '$context.identity.userArn',
  sourceIp: '$context.identity.sourceIp',
  responseLength: '$context.responseLength',
} as const;

export interface CommandApiProps {
  /** Runlane environment name (`RUNLANE_ENVIRONMENT`). */
  readonly environmentName: string;
  /** Lifecycle store: the API reads runs and writes client Idempotency-Key items. */
  readonly lifecycle: LifecycleStorage;
  /** Lanes the API enqueues to; it may send to these queues and no others. */
  readonly lanes: readonly CommandLane[];
  /**
   * `iam` requires SigV4-signed requests on every route; `none` leaves the
   * routes open and is meant only for throwaway sandboxes.
   * @default 'iam'
   */
  readonly authorization?: ApiSettings['authorization'];
  /**
   * Steady-state requests per second allowed on each route of the stage.
   * @default 50
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst of requests allowed on each route of the stage.
   * @default 100
   */
  readonly throttlingBurstLimit?: number;
  /**
   * Largest request body accepted (`API_MAX_BODY_BYTES`); larger bodies get 413.
   * @default 32768
   */
  readonly maxBodyBytes?: number;
  /**
   * Days a client Idempotency-Key item is kept (`RETENTION_DAYS`).
   * @default 30
   */
  readonly retentionDays?: number;
  /**
   * API function timeout (HTTP APIs wait at most 30 s for an integration).
   * @default Duration.seconds(10)
   */
  readonly functionTimeout?: Duration;
  /**
   * API function memory in MB.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Retention of the function's and the access logs' log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * API name.
   * @default `runlane-<environmentName>-api`
   */
  readonly apiName?: string;
  /**
   * API function entry file.
   * @default functions/handlers/api.ts
   */
  readonly entry?: string;
}

/**
 * The command API: validates, enqueues and serves read models (DESIGN §2).
 *
 * Creates:
 * - the api function (`RunlaneFunction`, api handler) with
 *   `COMMAND_QUEUE_URLS` (lane name → queue URL), `LIFECYCLE_TABLE_NAME`,
 *   `API_MAX_BODY_BYTES`, `RETENTION_DAYS`, `RUNLANE_ENVIRONMENT`; it may send
 *   to the lane queues and on the lifecycle table what `TABLE_ACCESS.api` lists, nothing else;
 * - an HTTP API (API Gateway v2) with the {@link COMMAND_API_ROUTES}, each a
 *   Lambda proxy integration (payload 2.0) with IAM authorization unless
 *   `authorization` is `none`;
 * - the `$default` stage, auto-deployed, with per-route throttling and JSON
 *   access logs ({@link ACCESS_LOG_FIELDS}) to their own log group.
 *
 * @example
 * const api = new CommandApi(this, 'Api', { environmentName: 'dev', lifecycle, lanes });
 * new CfnOutput(this, 'ApiUrl', { value: api.url });
 */
export class CommandApi extends Construct {
  public readonly httpApi: apigwv2.HttpApi;
  public readonly stage: apigwv2.HttpStage;
  public readonly handler: lambda.IFunction;
  public readonly handlerFunction: RunlaneFunction;
  public readonly accessLogGroup: logs.LogGroup;
  public readonly routes: readonly apigwv2.HttpRoute[];

  public constructor(scope: Construct, id: string, props: CommandApiProps) {
    super(scope, id);
    const authorization = props.authorization ?? DEFAULT_API_SETTINGS.authorization;
    const rateLimit = props.throttlingRateLimit ?? DEFAULT_API_SETTINGS.throttlingRateLimit;
    const burstLimit = props.throttlingBurstLimit ?? DEFAULT_API_SETTINGS.throttlingBurstLimit;
    const maxBodyBytes = props.maxBodyBytes ?? DEFAULT_API_SETTINGS.maxBodyBytes;
    checkProps(props, { rateLimit, burstLimit, maxBodyBytes });

    const queueUrls = Object.fromEntries(props.lanes.map((lane) => [lane.lane.name, lane.queue.queueUrl]));
    this.handlerFunction = new RunlaneFunction(this, 'Handler', {
      entry: props.entry ?? HANDLER_ENTRIES.api,
      environmentName: props.environmentName,
      serviceName: 'runlane-api',
      description: `Runlane ${props.environmentName} command API`,
      timeout: props.functionTimeout ?? API_FUNCTION_DEFAULTS.timeout,
      memorySize: props.memorySize ?? API_FUNCTION_DEFAULTS.memorySize,
      ...(props.logRetention !== undefined ? { logRetention: props.logRetention } : {}),
      ...(props.logRemovalPolicy !== undefined ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
      environment: {
        [RUNTIME_ENV.commandQueueUrls]: Stack.of(this).toJsonString(queueUrls),
        [RUNTIME_ENV.lifecycleTableName]: props.lifecycle.tableName,
        [RUNTIME_ENV.maxBodyBytes]: String(maxBodyBytes),
        [RUNTIME_ENV.retentionDays]: String(props.retentionDays ?? DEFAULT_LIFECYCLE_SETTINGS.retentionDays),
      },
    });
    this.handler = this.handlerFunction.function;
    for (const lane of props.lanes) lane.queue.grantSendMessages(this.handler);
    props.lifecycle.grantTableAccess(this.handler, TABLE_ACCESS.api(props.environmentName));
    Validations.of(this.handlerFunction).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'The api function is only invoked synchronously by API Gateway, which returns its errors to the caller; a function DLQ applies to asynchronous invocations only.',
    });

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: props.apiName ?? `${namePrefixFor(props.environmentName)}-api`,
      description: `Runlane ${props.environmentName} command API`,
      createDefaultStage: false,
      defaultAuthorizer: authorization === 'iam' ? new HttpIamAuthorizer() : new apigwv2.HttpNoneAuthorizer(),
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? LOG_GROUP_DEFAULTS.retention,
      removalPolicy: props.logRemovalPolicy ?? LOG_GROUP_DEFAULTS.removalPolicy,
    });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit, burstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    const integration = new HttpLambdaIntegration('Handler', this.handler, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      timeout: Duration.seconds(
        Math.min(29, (props.functionTimeout ?? API_FUNCTION_DEFAULTS.timeout).toSeconds() + 1),
      ),
    });
    this.routes = COMMAND_API_ROUTES.flatMap((route) =>
      this.httpApi.addRoutes({ path: route.path, methods: [route.method], integration }),
    );

    if (authorization === 'none') {
      Validations.of(this.httpApi).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'This environment sets api.authorization to "none" in cdk.json, which is allowed only for throwaway sandboxes; every other environment uses IAM (SigV4) authorization on every route.',
      });
    }
  }

  /** Base URL of the API (the `$default` stage), ending in `/`. */
  public get url(): string {
    return this.stage.url;
  }
}

function checkProps(
  props: CommandApiProps,
  resolved: { readonly rateLimit: number; readonly burstLimit: number; readonly maxBodyBytes: number },
): void {
  const problems: string[] = [];
  if (props.lanes.length === 0) problems.push('lanes: at least one lane is required');
  const names = props.lanes.map((lane) => lane.lane.name);
  const duplicates = names.filter((name, index) => names.indexOf(name) !== index);
  if (duplicates.length > 0)
    problems.push(`lanes: duplicate lane names ${[...new Set(duplicates)].join(', ')}`);
  if (!(resolved.rateLimit > 0))
    problems.push(`throttlingRateLimit: must be positive, got ${resolved.rateLimit}`);
  if (!(Number.isInteger(resolved.burstLimit) && resolved.burstLimit > 0)) {
    problems.push(`throttlingBurstLimit: must be a positive integer, got ${resolved.burstLimit}`);
  }
  if (
    !(
      Number.isInteger(resolved.maxBodyBytes) &&
      resolved.maxBodyBytes >= 1024 &&
      resolved.maxBodyBytes <= 262_144
    )
  ) {
    problems.push(`maxBodyBytes: must be an integer from 1024 to 262144, got ${resolved.maxBodyBytes}`);
  }
  const timeoutSeconds = (props.functionTimeout ?? API_FUNCTION_DEFAULTS.timeout).toSeconds({
    integral: false,
  });
  if (timeoutSeconds < 1 || timeoutSeconds > 28) {
    problems.push(
      `functionTimeout: must be 1-28 seconds so API Gateway (30 s) sees the function's answer, got ${timeoutSeconds}`,
    );
  }
  throwIfProblems('CommandApi', problems);
}
