import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { API_ROUTES, ROUTE_GROUP_AUTH, type RouteGroup, type RouteName } from '#contracts/api-routes.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import {
  type ApiSettings,
  DEFAULT_API_SETTINGS,
  DEFAULT_LIFECYCLE_SETTINGS,
  DEFAULT_WORKER_CLOCK_SKEW_SECONDS,
  type RouteThrottle,
} from '../config/environment-config.js';
import { API_FUNCTION_DEFAULTS, HANDLER_ENTRIES, LOG_GROUP_DEFAULTS, namePrefixFor } from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import type { CommandLane } from '../lanes/command-lane.js';
import { RunlaneFunction } from '../runlane-function.js';
import type { LifecycleStorage } from '../storage/lifecycle-storage.js';
import { TABLE_ACCESS } from '../storage/table-access.js';
import { HouseholdAuth, type HouseholdAuthProps } from './household-auth.js';

/**
 * The routes of the command API; all go to the one api function (Lambda proxy, payload 2.0). The
 * group decides the authorizer (`ROUTE_GROUP_AUTH`) and the throttle; `routeKey` is API Gateway's
 * `METHOD path`.
 */
export const COMMAND_API_ROUTES = (Object.keys(API_ROUTES) as RouteName[]).map((name) => {
  const route = API_ROUTES[name];
  return {
    name,
    method: apigwv2.HttpMethod[route.method],
    path: route.path,
    group: route.group as RouteGroup,
    routeKey: `${route.method} ${route.path}`,
  };
});

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
   * How the operator and worker routes are authorized: `iam` (SigV4) or `none` (open; throwaway
   * sandboxes only, refused for `prod`). Household routes always take a JWT.
   * @default 'iam'
   */
  readonly authorization?: ApiSettings['authorization'];
  /**
   * Household users' JWTs: an external issuer and audience, or neither for a Cognito user pool
   * created here; the claim names the API reads.
   * @default a Cognito user pool and app client, `DEFAULT_JWT_CLAIMS`
   */
  readonly jwt?: Omit<HouseholdAuthProps, 'environmentName' | 'retainOnDelete'>;
  /**
   * Keep a created user pool on stack deletion, with deletion protection.
   * @default true
   */
  readonly retainUserPool?: boolean;
  /**
   * Per-route throttle of each route group (each route of the group gets these limits).
   * @default DEFAULT_API_SETTINGS.throttling
   */
  readonly throttling?: Partial<Readonly<Record<RouteGroup, RouteThrottle>>>;
  /**
   * Seconds a worker timestamp may be ahead of its receipt (`WORKER_CLOCK_SKEW_SECONDS`).
   * @default 300
   */
  readonly workerClockSkewSeconds?: number;
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
 *   `API_MAX_BODY_BYTES`, `RETENTION_DAYS`, `RUNLANE_ENVIRONMENT`, `API_AUTHORIZATION`,
 *   `JWT_HOUSEHOLD_CLAIM`, `JWT_ROLE_CLAIM`, `WORKER_CLOCK_SKEW_SECONDS`; it may send
 *   to the lane queues and on the lifecycle table what `TABLE_ACCESS.api` lists, nothing else;
 * - {@link HouseholdAuth}: the JWT authorizer (and, without an external issuer, the Cognito user
 *   pool and app client behind it);
 * - an HTTP API (API Gateway v2) with the {@link COMMAND_API_ROUTES}, each a Lambda proxy
 *   integration (payload 2.0) with the authorizer of its group (`ROUTE_GROUP_AUTH`): the JWT
 *   authorizer on household routes in every environment, IAM on operator and worker routes
 *   unless `authorization` is `none`;
 * - the `$default` stage, auto-deployed, with each route throttled by its group's limits
 *   (`RouteSettings`, keyed by route key; the stage default is the strictest group's, for a route
 *   with none) and JSON access logs ({@link ACCESS_LOG_FIELDS}) to their own log group.
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
  /** Each route by its name in `API_ROUTES`. */
  public readonly routesByName: Readonly<Record<RouteName, apigwv2.HttpRoute>>;
  /** Household users' JWT authorizer and, without an external issuer, its user pool. */
  public readonly householdAuth: HouseholdAuth;

  public constructor(scope: Construct, id: string, props: CommandApiProps) {
    super(scope, id);
    const authorization = props.authorization ?? DEFAULT_API_SETTINGS.authorization;
    const throttling: Readonly<Record<RouteGroup, RouteThrottle>> = {
      ...DEFAULT_API_SETTINGS.throttling,
      ...props.throttling,
    };
    const maxBodyBytes = props.maxBodyBytes ?? DEFAULT_API_SETTINGS.maxBodyBytes;
    const clockSkewSeconds = props.workerClockSkewSeconds ?? DEFAULT_WORKER_CLOCK_SKEW_SECONDS;
    checkProps(props, { authorization, throttling, maxBodyBytes, clockSkewSeconds });

    this.householdAuth = new HouseholdAuth(this, 'HouseholdAuth', {
      environmentName: props.environmentName,
      ...props.jwt,
      ...(props.retainUserPool !== undefined ? { retainOnDelete: props.retainUserPool } : {}),
    });

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
        [RUNTIME_ENV.apiAuthorization]: authorization,
        [RUNTIME_ENV.jwtHouseholdClaim]: this.householdAuth.householdClaim,
        [RUNTIME_ENV.jwtRoleClaim]: this.householdAuth.roleClaim,
        [RUNTIME_ENV.workerClockSkewSeconds]: String(clockSkewSeconds),
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
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? LOG_GROUP_DEFAULTS.retention,
      removalPolicy: props.logRemovalPolicy ?? LOG_GROUP_DEFAULTS.removalPolicy,
    });
    const strictest = Object.values(throttling).reduce((a, b) => ({
      rateLimit: Math.min(a.rateLimit, b.rateLimit),
      burstLimit: Math.min(a.burstLimit, b.burstLimit),
    }));
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: strictest,
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
    const iam: apigwv2.IHttpRouteAuthorizer =
      authorization === 'iam' ? new HttpIamAuthorizer() : new apigwv2.HttpNoneAuthorizer();
    const authorizers: Readonly<Record<'jwt' | 'iam', apigwv2.IHttpRouteAuthorizer>> = {
      jwt: this.householdAuth.authorizer,
      iam,
    };
    const byName: Partial<Record<RouteName, apigwv2.HttpRoute>> = {};
    for (const route of COMMAND_API_ROUTES) {
      const [created] = this.httpApi.addRoutes({
        path: route.path,
        methods: [route.method],
        integration,
        authorizer: authorizers[ROUTE_GROUP_AUTH[route.group]],
      });
      if (!created) throw new Error(`CommandApi: no route created for ${route.routeKey}`);
      byName[route.name] = created;
      if (authorization === 'none' && ROUTE_GROUP_AUTH[route.group] === 'iam') {
        Validations.of(created).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: `This sandbox environment sets api.authorization to "none" in cdk.json (refused for prod at synth), which leaves this ${route.group} route (${route.routeKey}) without IAM authorization; household routes keep their JWT authorizer.`,
        });
      }
    }
    this.routesByName = byName as Record<RouteName, apigwv2.HttpRoute>;
    this.routes = COMMAND_API_ROUTES.map((route) => this.routesByName[route.name]);

    // Each route its group's throttle. RouteSettings name routes by key, so the stage must be
    // created after them (CloudFormation refuses settings for a route key that does not exist).
    const cfnStage = this.stage.node.defaultChild as apigwv2.CfnStage;
    cfnStage.routeSettings = Object.fromEntries(
      COMMAND_API_ROUTES.map((route) => [
        route.routeKey,
        {
          ThrottlingRateLimit: throttling[route.group].rateLimit,
          ThrottlingBurstLimit: throttling[route.group].burstLimit,
        },
      ]),
    );
    this.stage.node.addDependency(...this.routes.map((route) => route.node.defaultChild as apigwv2.CfnRoute));
  }

  /** Base URL of the API (the `$default` stage), ending in `/`. */
  public get url(): string {
    return this.stage.url;
  }
}

function checkProps(
  props: CommandApiProps,
  resolved: {
    readonly authorization: ApiSettings['authorization'];
    readonly throttling: Readonly<Record<RouteGroup, RouteThrottle>>;
    readonly maxBodyBytes: number;
    readonly clockSkewSeconds: number;
  },
): void {
  const problems: string[] = [];
  if (props.lanes.length === 0) problems.push('lanes: at least one lane is required');
  const names = props.lanes.map((lane) => lane.lane.name);
  const duplicates = names.filter((name, index) => names.indexOf(name) !== index);
  if (duplicates.length > 0)
    problems.push(`lanes: duplicate lane names ${[...new Set(duplicates)].join(', ')}`);
  if (resolved.authorization === 'none' && props.environmentName === 'prod') {
    problems.push('authorization: "none" is refused for prod (operator and worker routes would be open)');
  }
  for (const [group, throttle] of Object.entries(resolved.throttling)) {
    if (!(throttle.rateLimit > 0))
      problems.push(`throttling.${group}.rateLimit: must be positive, got ${throttle.rateLimit}`);
    if (!(Number.isInteger(throttle.burstLimit) && throttle.burstLimit > 0)) {
      problems.push(`throttling.${group}.burstLimit: must be a positive integer, got ${throttle.burstLimit}`);
    }
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
  if (!(Number.isInteger(resolved.clockSkewSeconds) && resolved.clockSkewSeconds >= 1)) {
    problems.push(`workerClockSkewSeconds: must be a positive integer, got ${resolved.clockSkewSeconds}`);
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
