import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import {
  SupervisorSilentHostsCheck,
  type SupervisorSilentHostsCheckProps,
} from '#lib/agents/supervisor-silent-hosts-check.js';
import { ConfigError, parseRunlaneConfig } from '#lib/config/environment-config.js';
import { RunlaneStack } from '#lib/runlane-stack.js';
import { LifecycleStorage } from '#lib/storage/lifecycle-storage.js';
import { expectTheOnlyFunction, logicalIdOf } from '../support/lambda-template.js';
import {
  environmentConfig,
  rawConfig,
  roleStatements,
  TEST_REGION,
  testApp,
  testStack,
  thrownMessage,
} from './support.js';

describe('SupervisorSilentHostsCheck', () => {
  let template: Template;
  let ids: { fn: string; rule: string; table: string };

  beforeAll(() => {
    const stack = testStack();
    const lifecycle = new LifecycleStorage(stack, 'Lifecycle');
    const check = new SupervisorSilentHostsCheck(stack, 'SupervisorSilentHosts', {
      environmentName: 'test',
      lifecycle,
      staleMinutes: 20,
    });
    template = Template.fromStack(stack);
    ids = {
      fn: logicalIdOf(check.function),
      rule: logicalIdOf(check.rule),
      table: logicalIdOf(lifecycle.table),
    };
  });

  it('runs the function every 5 minutes from a schedule rule, once per tick: no retries, no stale ticks', () => {
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'runlane-test-supervisor-silent-hosts',
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [ids.fn, 'Arn'] },
          Id: 'Target0',
          RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 240 },
        },
      ],
    });
    const [rule] = Object.values(template.findResources('AWS::Events::Rule'));
    // The default bus: a schedule, not an agent event.
    expect(rule?.Properties.EventBusName).toBeUndefined();
    expect(rule?.Properties.EventPattern).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [ids.fn, 'Arn'] },
      SourceArn: { 'Fn::GetAtt': [ids.rule, 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ids.fn },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 240,
    });
  });

  it('gives the function its handler, runtime defaults, the table and the threshold', () => {
    const variables = expectTheOnlyFunction(template, {
      logicalId: ids.fn,
      timeoutSeconds: 30,
      requiredEnv: 'supervisorSilentHosts',
    });
    expect(variables).toMatchObject({
      RUNLANE_ENVIRONMENT: 'test',
      POWERTOOLS_SERVICE_NAME: 'runlane-supervisor-silent-hosts',
      LIFECYCLE_TABLE_NAME: { Ref: ids.table },
      SUPERVISOR_STALE_MINUTES: '20',
    });
  });

  it('may only Query the table, in its environment’s supervisor partition: no index, no GetItem or Scan, no writes', () => {
    const statements = roleStatements(template, /^SupervisorSilentHostsFunctionRole/);
    const onTable = statements.filter((statement) => JSON.stringify(statement.Resource).includes(ids.table));
    expect(onTable).toEqual([
      {
        Sid: 'SupervisorHealth',
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: { 'Fn::GetAtt': [ids.table, 'Arn'] },
        // Its shards #0…#7, and the unsharded partition written before the sharding.
        Condition: {
          'ForAllValues:StringEquals': {
            'dynamodb:LeadingKeys': [
              ...Array.from({ length: 8 }, (_, shard) => `SUPERVISOR#test#${shard}`),
              'SUPERVISOR#test',
            ],
          },
        },
      },
    ]);
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions.filter((action) => action.startsWith('dynamodb:'))).toEqual(['dynamodb:Query']);
    expect(actions.filter((action) => /^(sqs|events|sns|s3):/.test(action))).toEqual([]);
    expect(JSON.stringify(statements)).not.toContain('/index/');
  });

  it('checks its props up front, listing every problem', () => {
    const build = (props: Partial<SupervisorSilentHostsCheckProps>) => () => {
      const stack = testStack();
      new SupervisorSilentHostsCheck(stack, 'Check', {
        environmentName: 'test',
        lifecycle: new LifecycleStorage(stack, 'Lifecycle'),
        ...props,
      });
    };
    const message = thrownMessage(
      build({ namePrefix: 'no spaces', staleMinutes: 0, functionTimeout: Duration.minutes(5) }),
    );
    expect(message).toContain('Invalid SupervisorSilentHostsCheck props');
    for (const expected of [
      'namePrefix (rule name): "no spaces-supervisor-silent-hosts"',
      'staleMinutes: must be an integer from 1 to 1440, got 0',
      'functionTimeout: must be 1 to 120 seconds, got 5 minutes',
    ]) {
      expect(message).toContain(expected);
    }
    expect(thrownMessage(build({ staleMinutes: 2.5 }))).toContain('got 2.5');
  });
});

describe('SupervisorSilentHostsCheck in an environment', () => {
  it('takes staleMinutes from alarms.supervisor.silentHosts (default 15) and reads only SUPERVISOR#<env> (its shards and the unsharded partition)', () => {
    const template = (config: Record<string, unknown>) =>
      Template.fromStack(
        new RunlaneStack(testApp(), 'Runlane-staging', {
          environmentName: 'staging',
          config: environmentConfig(config),
          env: { region: TEST_REGION },
        }),
      );
    const variable = (t: Template) =>
      Object.values(t.findResources('AWS::Lambda::Function'))
        .map((fn) => fn.Properties?.Environment?.Variables?.[RUNTIME_ENV.supervisorStaleMinutes])
        .filter((value) => value !== undefined);

    const defaults = template({});
    expect(variable(defaults)).toEqual(['15']);
    expect(variable(template({ alarms: { supervisor: { silentHosts: { staleMinutes: 45 } } } }))).toEqual([
      '45',
    ]);
    const readable = JSON.stringify(roleStatements(defaults, /^SupervisorSilentHostsFunctionRole/));
    for (const partition of ['"SUPERVISOR#staging"', '"SUPERVISOR#staging#0"', '"SUPERVISOR#staging#7"']) {
      expect(readable).toContain(partition);
    }
  });

  it('refuses a bad threshold in cdk.json, naming its field path', () => {
    let error: unknown;
    try {
      parseRunlaneConfig(
        rawConfig({ prod: { alarms: { supervisor: { silentHosts: { staleMinutes: 1441 } } } } }),
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      {
        fieldPath: 'environments.prod.alarms.supervisor.silentHosts.staleMinutes',
        message: expect.stringContaining('1440'),
      },
    ]);
  });
});
