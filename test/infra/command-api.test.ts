import { Duration, type Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '#contracts/api-routes.js';
import { DEFAULT_JWT_CLAIMS } from '#contracts/identity.js';
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

type RouteProperties = { AuthorizationType?: string; AuthorizerId?: unknown; RouteKey: string };

/** Each route's properties by route key. */
function routesByKey(template: Template): Record<string, RouteProperties> {
  return Object.fromEntries(
    Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((route) => [
      (route.Properties as RouteProperties).RouteKey,
      route.Properties as RouteProperties,
    ]),
  );
}

/** Route logical ids by id. */
function routesByKeyIds(template: Template): Record<string, unknown> {
  return template.findResources('AWS::ApiGatewayV2::Route');
}

/** The rule ids acknowledged on a construct itself (`Validations.of(construct).acknowledge`). */
function acknowledgedRules(construct: IConstruct): string[] {
  return construct.node.metadata
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry) => JSON.stringify(entry.data).match(/AwsSolutions-[A-Za-z0-9]+/g) ?? []);
}

describe('CommandApi', () => {
  let template: Template;

  beforeAll(() => {
    const { stack } = apiFixture({
      throttling: {
        household: { rateLimit: 25, burstLimit: 60 },
        operator: { rateLimit: 5, burstLimit: 10 },
        worker: { rateLimit: 40, burstLimit: 80 },
      },
      maxBodyBytes: 65_536,
      workerClockSkewSeconds: 120,
    });
    template = Template.fromStack(stack);
  });

  it('creates one route per API_ROUTES entry: JWT on household routes, IAM on operator and worker routes', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.resourceCountIs('AWS::ApiGatewayV2::Route', Object.keys(API_ROUTES).length);
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    const authorizerId = Object.keys(template.findResources('AWS::ApiGatewayV2::Authorizer'))[0];
    const byKey = routesByKey(template);
    expect(Object.keys(byKey).sort()).toEqual(
      Object.values(API_ROUTES)
        .map((route) => `${route.method} ${route.path}`)
        .sort(),
    );
    for (const route of Object.values(API_ROUTES)) {
      const properties = byKey[`${route.method} ${route.path}`];
      if (route.group === 'household') {
        expect(properties).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: { Ref: authorizerId } });
      } else {
        expect(properties?.AuthorizationType).toBe('AWS_IAM');
        expect(properties?.AuthorizerId).toBeUndefined();
      }
    }
    expect(byKey['POST /api/v1/agent/conversations/{conversationId}/approvals/{approvalId}']).toMatchObject({
      AuthorizationType: 'JWT',
    });
    expect(byKey['POST /api/workers/sites/{site}/results']?.AuthorizationType).toBe('AWS_IAM');
  });

  it('integrates every route with the api function as a Lambda proxy, payload 2.0', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [Match.stringLikeRegexp('ApiHandlerFunction'), 'Arn'] },
    });
  });

  it('throttles each route by its group, the stage default being the strictest, and writes JSON access logs', () => {
    const expected = { household: [25, 60], operator: [5, 10], worker: [40, 80] } as const;
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      RouteSettings: Object.fromEntries(
        Object.values(API_ROUTES).map((route) => [
          `${route.method} ${route.path}`,
          {
            ThrottlingRateLimit: expected[route.group][0],
            ThrottlingBurstLimit: expected[route.group][1],
          },
        ]),
      ),
    });
    // The stage is created after the routes its settings name.
    const [stage] = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'));
    expect([...(stage?.DependsOn ?? [])].sort()).toEqual(Object.keys(routesByKeyIds(template)).sort());
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
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
          [RUNTIME_ENV.apiAuthorization]: 'iam',
          [RUNTIME_ENV.jwtHouseholdClaim]: DEFAULT_JWT_CLAIMS.household,
          [RUNTIME_ENV.jwtRoleClaim]: DEFAULT_JWT_CLAIMS.role,
          [RUNTIME_ENV.workerClockSkewSeconds]: '120',
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
  it('with authorization none opens the operator and worker routes only; household routes keep the JWT', () => {
    const { stack, api } = apiFixture({ authorization: 'none' });
    const template = Template.fromStack(stack);
    const byKey = routesByKey(template);
    for (const route of COMMAND_API_ROUTES) {
      expect(byKey[route.routeKey]?.AuthorizationType, route.routeKey).toBe(
        route.group === 'household' ? 'JWT' : 'NONE',
      );
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [RUNTIME_ENV.apiAuthorization]: 'none' }) },
    });
    // The cdk-nag acknowledgement is on the open routes only, with a reason.
    for (const route of COMMAND_API_ROUTES) {
      const acknowledged = acknowledgedRules(api.routesByName[route.name]);
      if (route.group === 'household')
        expect(acknowledged, route.routeKey).not.toContain('AwsSolutions-APIG4');
      else expect(acknowledged, route.routeKey).toContain('AwsSolutions-APIG4');
    }
    expect(acknowledgedRules(api.httpApi)).not.toContain('AwsSolutions-APIG4');
  });

  it('refuses authorization none for prod', () => {
    const fixture = laneFixture();
    const lanes = [
      new CommandLane(fixture.stack, 'Lane', {
        lane: LANES[0] as (typeof LANES)[number],
        environmentName: 'prod',
        lifecycle: fixture.lifecycle,
        telemetry: fixture.telemetry,
      }),
    ];
    expect(
      () =>
        new CommandApi(fixture.stack, 'Api', {
          environmentName: 'prod',
          lifecycle: fixture.lifecycle,
          lanes,
          authorization: 'none',
        }),
    ).toThrow(/authorization: "none" is refused for prod/);
  });

  it('uses the configured claim names', () => {
    const { stack } = apiFixture({ jwt: { householdClaim: 'hh', roleClaim: 'role' } });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [RUNTIME_ENV.jwtHouseholdClaim]: 'hh',
          [RUNTIME_ENV.jwtRoleClaim]: 'role',
          [RUNTIME_ENV.workerClockSkewSeconds]: '300',
        }),
      },
    });
  });

  it('reports every invalid prop in one error', () => {
    const message = thrownMessage(() =>
      apiFixture({
        throttling: { worker: { rateLimit: 0, burstLimit: 1.5 } },
        maxBodyBytes: 10,
        workerClockSkewSeconds: 0,
        functionTimeout: Duration.seconds(60),
      }),
    );
    expect(message).toContain('throttling.worker.rateLimit:');
    expect(message).toContain('throttling.worker.burstLimit:');
    expect(message).toContain('workerClockSkewSeconds:');
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
