/**
 * Prod data protection in the app as cdk.json configures it: the retained tables of prod and
 * staging refuse DeleteTable (deletion protection), dev's throwaway table does not, and prod's
 * replay drill logs no execution data (message bodies).
 */
import { readFileSync } from 'node:fs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EnvironmentName } from '#lib/config/environment-config.js';
import { createRunlaneStacks, stackNameFor } from '#lib/runlane-app.js';
import type { RunlaneStack } from '#lib/runlane-stack.js';
import { configError, rawConfig, testApp } from './support.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: { runlane: Record<string, unknown> };
};

describe('prod protection, as cdk.json configures the environments', () => {
  const templates = new Map<string, Template>();

  beforeAll(() => {
    const stacks: RunlaneStack[] = createRunlaneStacks(
      testApp({ context: { runlane: cdkJson.context.runlane } }),
    );
    for (const stack of stacks) templates.set(stack.stackName, Template.fromStack(stack));
  });

  function template(name: EnvironmentName): Template {
    const found = templates.get(stackNameFor(name));
    if (!found) throw new Error(`no stack for ${name}`);
    return found;
  }

  it('protects the prod and staging tables from deletion, and retains them', () => {
    for (const name of ['prod', 'staging'] as const) {
      template(name).hasResource('AWS::DynamoDB::GlobalTable', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({ Replicas: [Match.objectLike({ DeletionProtectionEnabled: true })] }),
      });
    }
  });

  it('leaves dev’s throwaway table (retainOnDelete: false) unprotected, so its stack can be deleted', () => {
    template('dev').hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })] }),
    });
  });

  it('logs the prod replay drill without execution data, the others with it', () => {
    const includes = (name: EnvironmentName) =>
      Object.values(template(name).findResources('AWS::StepFunctions::StateMachine')).map(
        (machine) =>
          (
            machine as {
              Properties: { LoggingConfiguration: { IncludeExecutionData: boolean; Level: string } };
            }
          ).Properties.LoggingConfiguration,
      );
    expect(includes('prod')).toEqual([
      expect.objectContaining({ Level: 'ALL', IncludeExecutionData: false }),
    ]);
    expect(includes('dev')).toEqual([expect.objectContaining({ IncludeExecutionData: true })]);
  });
});

describe('lifecycle.deletionProtection', () => {
  it('follows the configuration: off for prod when set false', () => {
    const stacks = createRunlaneStacks(
      testApp({
        context: { runlane: rawConfig({ prod: { lifecycle: { deletionProtection: false } } }), env: 'prod' },
      }),
    );
    const [prod] = stacks;
    if (!prod) throw new Error('no prod stack');
    Template.fromStack(prod).hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })],
    });
  });

  it('refuses protection on a table deleted with its stack, naming the field path', () => {
    const error = configError(
      rawConfig({ staging: { lifecycle: { retainOnDelete: false, deletionProtection: true } } }),
    );
    expect(error.issues.map((issue) => issue.fieldPath)).toEqual([
      'environments.staging.lifecycle.deletionProtection',
    ]);
    expect(error.message).toContain('cannot be true while retainOnDelete is false');
  });
});
