import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { TelemetryBus } from '#lib/bus/telemetry-bus.js';
import { actionsOn, roleStatements, testStack } from './support.js';

describe('TelemetryBus', () => {
  it('creates a bus named per environment, without an archive by default', () => {
    const stack = testStack();
    new TelemetryBus(stack, 'Telemetry', { environmentName: 'staging' });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'runlane-staging-telemetry' });
    template.resourceCountIs('AWS::Events::Archive', 0);
  });

  it('archives every event when archiveRetention is set', () => {
    const stack = testStack();
    new TelemetryBus(stack, 'Telemetry', { environmentName: 'prod', archiveRetention: Duration.days(7) });
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Archive', { RetentionDays: 7 });
  });

  it('grants PutEvents on this bus only', () => {
    const stack = testStack();
    const bus = new TelemetryBus(stack, 'Telemetry', { environmentName: 'dev' });
    const role = new iam.Role(stack, 'Publisher', { assumedBy: new iam.AccountRootPrincipal() });
    bus.grantPutEvents(role);
    const statements = roleStatements(Template.fromStack(stack), /Publisher/);
    expect(statements).toHaveLength(1);
    expect(actionsOn(statements, /TelemetryBus/)).toEqual(['events:PutEvents']);
  });

  it('rejects an invalid bus name and a sub-day archive together', () => {
    expect(
      () =>
        new TelemetryBus(testStack(), 'Telemetry', {
          environmentName: 'dev',
          busName: 'default',
          archiveRetention: Duration.hours(1),
        }),
    ).toThrow(/busName: .*\n.*archiveRetention: must be at least 1 day/);
  });
});
