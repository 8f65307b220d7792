import { Duration, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LANES } from '#contracts/lanes.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import {
  ACCESS_LOG_FIELDS,
  COMMAND_API_ROUTES,
  CommandApi,
  type CommandApiProps,
} from '#lib/api/command-api.js';
import { CommandLane } from '#lib/lanes/command-lane.js';
import { actionsOn, type LaneFixture, laneFixture, roleStatements, thrownMessage } from './support.js';

function apiFixture(props: Partial<CommandApiProps> = {}): {
  stack: Stack;
  api: CommandApi;
  fixture: LaneFixture;
} {
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
  const api = new CommandApi(fixture.stack, 'Api', {
    environmentName: 'test',
    lifecycle: fixture.lifecycle,
    lanes,
    ...props,
  });
  return { stack: fixture.stack, api, fixture };
}

describe('CommandApi', () => {
  let template: Template;

  beforeAll(() => {
    const { stack } = apiFixture({ throttlingRateLimit: 25, throttlingBurstLimit: 60, maxBodyBytes: 65_536 });
    template = Template.fromStack(stack);
  });

  it('creates an HTTP API with the five routes, all IAM-authorized', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.resourceCountIs('AWS::ApiGatewayV2::Route', COMMAND_API_ROUTES.length);
    for (const route of COMMAND_API_ROUTES) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: `${route.method} ${route.path}`,
        AuthorizationType: 'AWS_IAM',
      });
    }
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'POST /api/v1/agent/conversations/{conversationId}/approvals/{approvalId}',
    });
  });

  it('integrates every route with the api function as a Lambda proxy, payload 2.0', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [Match.stringLikeRegexp('ApiHandlerFunction'), 'Arn'] },
    });
  });

  it('throttles the stage and writes JSON access logs to a log group', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 60 },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ApiAccessLogs'), 'Arn'] },
        Format: JSON.stringify(ACCESS_LOG_FIELDS),
      },
    });
    for (const field of ['requestId', 'routeKey', 'status', 'responseLatency', 'integrationErrorMessage']) {
      expect(Object.keys(ACCESS_LOG_FIELDS)).toContain(field);
    }
  });

  it('gives the api function the queue map and its settings', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          [RUNTIME_ENV.commandQueueUrls]: {
            'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('"runtime-ingestion-completed":"')])],
          },
          [RUNTIME_ENV.lifecycleTableName]: { Ref: Match.stringLikeRegexp('LifecycleTable') },
          [RUNTIME_ENV.maxBodyBytes]: '65536',
          [RUNTIME_ENV.retentionDays]: '30',
          [RUNTIME_ENV.environmentName]: 'test',
        }),
      },
    });
  });

  it('lets the api function send to the lane queues and use the table, nothing else', () => {
    const statements = roleStatements(template, /ApiHandlerRole/);
    for (const definition of LANES) {
      expect(actionsOn(statements, new RegExp(`${definition.id}Queue`))).toContain('sqs:SendMessage');
    }
    expect(actionsOn(statements, /DeadLetterQueue/)).toEqual([]);
    expect(actionsOn(statements, /TelemetryBus/)).toEqual([]);
    const sqsActions = statements.flatMap((statement) =>
      [statement.Action].flat().filter((action) => action.startsWith('sqs:')),
    );
    expect(new Set(sqsActions)).toEqual(
      new Set(['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl']),
    );
    expect(actionsOn(statements, /LifecycleTable/)).toEqual(
      expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:Query']),
    );
  });
});

describe('CommandApi options', () => {
  it('leaves routes open only when authorization is none', () => {
    const { stack } = apiFixture({ authorization: 'none' });
    const routes = Template.fromStack(stack).findResources('AWS::ApiGatewayV2::Route');
    expect(Object.values(routes).map((route) => route.Properties.AuthorizationType)).toEqual(
      COMMAND_API_ROUTES.map(() => 'NONE'),
    );
  });

  it('reports every invalid prop in one error', () => {
    const message = thrownMessage(() =>
      apiFixture({
        throttlingRateLimit: 0,
        throttlingBurstLimit: 1.5,
        maxBodyBytes: 10,
        functionTimeout: Duration.seconds(60),
      }),
    );
    expect(message).toContain('throttlingRateLimit:');
    expect(message).toContain('throttlingBurstLimit:');
    expect(message).toContain('maxBodyBytes:');
    expect(message).toContain('functionTimeout:');
  });

  it('rejects an API without lanes', () => {
    const fixture = laneFixture();
    expect(
      () =>
        new CommandApi(fixture.stack, 'Api', {
          environmentName: 'test',
          lifecycle: fixture.lifecycle,
          lanes: [],
        }),
    ).toThrow(/lanes: at least one lane is required/);
  });
});
