import { type App, type CfnResource, Stack, Validations } from 'aws-cdk-lib';
import {
  AwsSolutionsChecks,
  NagMessageLevel,
  NagPack,
  type NagPackProps,
  rules,
  ServerlessChecks,
} from 'cdk-nag';
import type { Construct, IConstruct } from 'constructs';

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

/**
 * A resource (an ARN, often a token) as cdk-nag names it in a finding such as
 * `AwsSolutions-IAM5[Resource::<…>]`: `Fn::Join` joined, `Ref` as `<Id>`, `Fn::GetAtt` as
 * `<Id.Attr>`. Lets a construct acknowledge exactly the wildcard resources it created, one by one.
 *
 * @example
 * nagResourceName(this, api.arnForExecuteApi('POST', '/api/workers/results', '*'));
 * // 'arn:<AWS::Partition>:execute-api:us-east-1:<AWS::AccountId>:<ApiHttpApi4C294DC0>/x/POST/api/workers/results' (x = '*')
 */
export function nagResourceName(scope: Construct, value: unknown): string {
  const visit = (node: unknown): string => {
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
    if (typeof node === 'object' && node !== null) {
      const record = node as Record<string, unknown>;
      const join = record['Fn::Join'];
      if (Array.isArray(join)) {
        const [delimiter, items] = join as [string, unknown[]];
        return items.map(visit).join(delimiter);
      }
      const getAtt = record['Fn::GetAtt'];
      if (Array.isArray(getAtt)) return `<${visit(getAtt[0])}.${visit(getAtt[1])}>`;
      if ('Ref' in record) return `<${visit(record.Ref)}>`;
    }
    return JSON.stringify(node);
  };
  return visit(Stack.of(scope).resolve(value));
}
