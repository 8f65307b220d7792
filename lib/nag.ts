import { type App, type CfnResource, Validations } from 'aws-cdk-lib';
import {
  AwsSolutionsChecks,
  NagMessageLevel,
  NagPack,
  type NagPackProps,
  rules,
  ServerlessChecks,
} from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * Runlane's own rule pack: cdk-nag rules that matter to a queue-driven system
 * but are in no pre-built pack.
 *
 * - `Runlane-LambdaEventSourceSQSVisibilityTimeout` (error): an SQS queue's
 *   visibility timeout is at least 6 × the timeout of the function consuming
 *   it, so a message is not redelivered while an attempt is still running.
 */
export class RunlaneChecks extends NagPack {
  public readonly name = 'Runlane';

  public constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = 'Runlane';
  }

  protected checkResource(node: CfnResource): void {
    this.applyRule({
      info: 'The SQS queue visibility timeout is less than 6 times the timeout of the Lambda function consuming it.',
      explanation:
        'A visibility timeout shorter than the function can run lets SQS redeliver a message while the first attempt is still running; AWS recommends at least 6 × the function timeout plus the batching window.',
      level: NagMessageLevel.ERROR,
      rule: rules.lambda.LambdaEventSourceSQSVisibilityTimeout,
      node,
    });
  }
}

/** Names of the rule packs {@link addNagChecks} registers. */
export const NAG_PACK_NAMES = ['AwsSolutions', 'Serverless', 'Runlane'] as const;

/**
 * Registers cdk-nag (v3 validation plugins) on the app: AwsSolutions,
 * Serverless and {@link RunlaneChecks}. The one place cdk-nag is added.
 * Synthesis fails on any unacknowledged error; acknowledgements are made with
 * `Validations.of(construct).acknowledge({ id, reason })` next to the
 * resource they concern.
 *
 * @example
 * const app = new App();
 * createRunlaneStacks(app);
 * addNagChecks(app);
 */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app),
    new ServerlessChecks(app),
    new RunlaneChecks(app),
  );
}
