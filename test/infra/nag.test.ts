import { type App, Stack, Validations } from 'aws-cdk-lib';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, ROUTE_GROUP_AUTH } from '#contracts/api-routes.js';
import { CommandLane } from '#lib/lanes/command-lane.js';
import { addNagChecks, RunlaneChecks } from '#lib/nag.js';
import { createRunlaneStacks } from '#lib/runlane-app.js';
import { lane, laneFixture, rawConfig, testApp, testStack } from './support.js';

interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

function acknowledgements(root: IConstruct): Acknowledgement[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

function violations(app: App): string[] {
  const packs = [new AwsSolutionsChecks(), new ServerlessChecks(), new RunlaneChecks()];
  return packs.flatMap((pack) =>
    pack
      .validateScope(app)
      .violations.flatMap((violation) =>
        violation.violatingResources.map((resource) => `${violation.ruleName} ${resource.constructPath}`),
      ),
  );
}

describe('cdk-nag on the full app', () => {
  let app: App;

  beforeAll(() => {
    // Bundled for real here, once: the one test that synthesizes what `cdk deploy` would.
    app = testApp({ bundle: true, context: { runlane: rawConfig() } });
    createRunlaneStacks(app);
    addNagChecks(app);
  });

  it('synthesizes all three environments with zero unacknowledged findings', () => {
    const assembly = app.synth();
    expect(assembly.stacks.map((stack) => stack.stackName).sort()).toEqual([
      'Runlane-dev',
      'Runlane-prod',
      'Runlane-staging',
    ]);
    // Warnings do not fail synthesis, so check the packs directly too: nothing at all.
    expect(violations(app)).toEqual([]);
  });

  it('acknowledges only with a written reason specific to the resource', () => {
    const found = acknowledgements(app);
    expect(found.length).toBeGreaterThan(0);
    for (const acknowledgement of found) {
      expect(acknowledgement.reason.length, `${acknowledgement.path} ${acknowledgement.id}`).toBeGreaterThan(
        80,
      );
    }
    expect(new Set(found.map((acknowledgement) => acknowledgement.id.replace(/\[.*\]$/, '')))).toEqual(
      new Set([
        'AwsSolutions-IAM5',
        'Serverless-LambdaDLQ',
        'Serverless-LambdaAsyncFailureDestination',
        'Serverless-EventBusDLQ',
        'Serverless-LambdaEventSourceMappingDestination',
        'Serverless-SQSRedrivePolicy',
        'AwsSolutions-SQS3',
      ]),
    );
  });
});

describe('cdk-nag with authorization none', () => {
  it('acknowledges AwsSolutions-APIG4 only for the environment that opts out of IAM', () => {
    const app = testApp({ context: { runlane: rawConfig({ dev: { api: { authorization: 'none' } } }) } });
    createRunlaneStacks(app);
    expect(violations(app)).toEqual([]);
    const apig4 = acknowledgements(app).filter(
      (acknowledgement) => acknowledgement.id === 'AwsSolutions-APIG4',
    );
    // On each operator and worker route of dev, which lose IAM; household routes keep their JWT.
    const iamRoutes = Object.values(API_ROUTES).filter((route) => ROUTE_GROUP_AUTH[route.group] === 'iam');
    expect(apig4).toHaveLength(iamRoutes.length);
    for (const acknowledgement of apig4) {
      expect(acknowledgement.path).toMatch(/^Runlane-dev\/Api\/HttpApi\/(POST|GET|PUT)--api--/);
      expect(acknowledgement.path).not.toContain('agent');
    }
  });
});

describe('cdk-nag failures', () => {
  function appWithNag(build: (stack: Stack) => void): App {
    const app = testApp();
    build(testStack(app));
    addNagChecks(app);
    return app;
  }

  it('fails synthesis on an unacknowledged finding', () => {
    const app = appWithNag((stack) => {
      new sqs.Queue(stack, 'Bare', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    });
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3|AwsSolutions-SQS4|AwsSolutions-SQS2/);
  });

  it('fails synthesis when a lane queue is lowered under 6 × the worker timeout behind the construct', () => {
    const app = testApp();
    const fixture = laneFixture(new Stack(app, 'Escape', { env: { region: 'us-east-1' } }));
    const created = new CommandLane(fixture.stack, 'Lane', {
      lane: lane('runtime-ingestion-completed'),
      environmentName: 'test',
      lifecycle: fixture.lifecycle,
      telemetry: fixture.telemetry,
    });
    (created.queue.node.defaultChild as CfnQueue).visibilityTimeout = 30;
    addNagChecks(app);
    expect(() => app.synth()).toThrow(/Runlane-LambdaEventSourceSQSVisibilityTimeout/);
  });
});
