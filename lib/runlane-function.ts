import { type Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import {
  BUNDLING_DEFAULTS,
  DEPS_LOCK_FILE,
  FUNCTION_BASE_ENVIRONMENT,
  FUNCTION_DEFAULTS,
  LOG_GROUP_DEFAULTS,
} from './defaults.js';
import { throwIfProblems } from './errors.js';

export interface RunlaneFunctionProps {
  /** Handler entry file (TypeScript); it must export `handler`. */
  readonly entry: string;
  /** Runlane environment name, set as `RUNLANE_ENVIRONMENT`. */
  readonly environmentName: string;
  /** Powertools service name (`POWERTOOLS_SERVICE_NAME`), e.g. `runlane-lane-worker`. */
  readonly serviceName: string;
  /** Function timeout. */
  readonly timeout: Duration;
  /** Memory in MB (128–10240). */
  readonly memorySize: number;
  /**
   * Function-specific environment variables, merged over the base ones
   * (`NODE_OPTIONS`, `RUNLANE_ENVIRONMENT`, `POWERTOOLS_SERVICE_NAME`).
   * @default - only the base variables
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Description shown in the Lambda console.
   * @default - no description
   */
  readonly description?: string;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * A Node.js Lambda function with Runlane's defaults (`lib/defaults.ts`).
 *
 * Creates:
 * - a log group with the given retention (the function writes only there);
 * - an IAM role whose only initial permission is writing to that log group
 *   (no `AWSLambdaBasicExecutionRole` managed policy);
 * - a `NodejsFunction`: nodejs24.x on arm64, active X-Ray tracing, JSON log
 *   format, bundled locally by esbuild as minified ESM with source maps and
 *   `NODE_OPTIONS=--enable-source-maps`.
 *
 * @example
 * const fn = new RunlaneFunction(this, 'Api', {
 *   entry: HANDLER_ENTRIES.api,
 *   environmentName: 'dev',
 *   serviceName: 'runlane-api',
 *   timeout: Duration.seconds(10),
 *   memorySize: 256,
 * });
 */
export class RunlaneFunction extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;

  public constructor(scope: Construct, id: string, props: RunlaneFunctionProps) {
    super(scope, id);
    checkProps(props);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? LOG_GROUP_DEFAULTS.retention,
      removalPolicy: props.logRemovalPolicy ?? LOG_GROUP_DEFAULTS.removalPolicy,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runlane ${props.environmentName} ${props.serviceName}`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      ...FUNCTION_DEFAULTS,
      entry: props.entry,
      handler: 'handler',
      depsLockFilePath: DEPS_LOCK_FILE,
      bundling: BUNDLING_DEFAULTS,
      role: this.role,
      logGroup: this.logGroup,
      timeout: props.timeout,
      memorySize: props.memorySize,
      ...(props.description ? { description: props.description } : {}),
      environment: {
        ...FUNCTION_BASE_ENVIRONMENT,
        ...props.environment,
        [RUNTIME_ENV.environmentName]: props.environmentName,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
      },
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active X-Ray tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions; every other statement names its resource.',
    });
  }
}

function checkProps(props: RunlaneFunctionProps): void {
  const problems: string[] = [];
  const timeoutSeconds = props.timeout.toSeconds({ integral: false });
  if (timeoutSeconds < 1 || timeoutSeconds > 900) {
    problems.push(`timeout: must be between 1 and 900 seconds, got ${timeoutSeconds}`);
  }
  if (!Number.isInteger(props.memorySize) || props.memorySize < 128 || props.memorySize > 10_240) {
    problems.push(`memorySize: must be an integer between 128 and 10240 MB, got ${props.memorySize}`);
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(props.serviceName)) {
    problems.push(`serviceName: must match [A-Za-z0-9_.-]+, got "${props.serviceName}"`);
  }
  throwIfProblems('RunlaneFunction', problems);
}
