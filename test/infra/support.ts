/**
 * Shared fixtures for the CDK template tests. Stacks are built once per file
 * (beforeAll); esbuild bundling is skipped through the CDK's own
 * `aws:cdk:bundling-stacks` context except where a test asks for it.
 */
import { App, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { LANES, type LaneDefinition } from '#contracts/lanes.js';
import { TelemetryBus } from '#lib/bus/telemetry-bus.js';
import { ConfigError, type EnvironmentConfig, parseRunlaneConfig } from '#lib/config/environment-config.js';
import { CommandLane, type CommandLaneProps } from '#lib/lanes/command-lane.js';
import { LifecycleStorage } from '#lib/storage/lifecycle-storage.js';

export const TEST_REGION = 'us-east-1';

/** A `runlane` context value with every environment at its defaults. */
export function rawConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    environments: {
      dev: { region: TEST_REGION, ...((overrides.dev as object | undefined) ?? {}) },
      staging: { region: TEST_REGION, ...((overrides.staging as object | undefined) ?? {}) },
      prod: { region: TEST_REGION, ...((overrides.prod as object | undefined) ?? {}) },
    },
  };
}

/** A validated environment configuration (defaults unless overridden). */
export function environmentConfig(overrides: Record<string, unknown> = {}): EnvironmentConfig {
  return parseRunlaneConfig(rawConfig({ dev: overrides })).environments.dev;
}

/** An app that skips asset bundling unless `bundle` is set. */
export function testApp(options: { bundle?: boolean; context?: Record<string, unknown> } = {}): App {
  return new App({
    context: {
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...options.context,
    },
  });
}

export function testStack(app: App = testApp(), id = 'Test'): Stack {
  return new Stack(app, id, { env: { region: TEST_REGION } });
}

export function lane(name: string): LaneDefinition {
  const found = LANES.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no lane ${name}`);
  return found;
}

export interface LaneFixture {
  readonly stack: Stack;
  readonly lifecycle: LifecycleStorage;
  readonly telemetry: TelemetryBus;
}

/** Storage and bus in a fresh stack, ready for lanes. */
export function laneFixture(stack: Stack = testStack()): LaneFixture {
  return {
    stack,
    lifecycle: new LifecycleStorage(stack, 'Lifecycle'),
    telemetry: new TelemetryBus(stack, 'Telemetry', { environmentName: 'test' }),
  };
}

/** Builds a lane in a fresh fixture; for props-validation tests. */
export function buildLane(props: Partial<CommandLaneProps> = {}): CommandLane {
  const fixture = laneFixture();
  return new CommandLane(fixture.stack, 'Lane', {
    lane: lane('runtime-ingestion-completed'),
    environmentName: 'test',
    lifecycle: fixture.lifecycle,
    telemetry: fixture.telemetry,
    ...props,
  });
}

/** Message of what `fn` throws (fails the test if it does not throw). */
export function thrownMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a throw');
}

export interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

/** Every IAM policy statement in the template whose policy is attached to a role matching `rolePattern`. */
export function roleStatements(template: Template, rolePattern: RegExp): PolicyStatement[] {
  const policies = template.findResources('AWS::IAM::Policy') as Record<
    string,
    { Properties: Record<string, unknown> }
  >;
  return Object.values(policies)
    .filter((policy) =>
      (policy.Properties.Roles as { Ref: string }[]).some((role) => rolePattern.test(role.Ref)),
    )
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement);
}

/** Actions of the statements whose resource mentions `logicalIdPattern`. */
export function actionsOn(statements: readonly PolicyStatement[], logicalIdPattern: RegExp): string[] {
  return statements
    .filter((statement) => logicalIdPattern.test(JSON.stringify(statement.Resource)))
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
    .sort();
}

/** The ConfigError `parseRunlaneConfig` throws for `raw` (fails the test if it accepts it). */
export function configError(raw: unknown): ConfigError {
  try {
    parseRunlaneConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
