import { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import { REQUIRED_RUNTIME_ENV, RUNTIME_ENV } from '#contracts/runtime-env.js';

/** The logical ID of `construct`'s CloudFormation resource in its stack's template. */
export function logicalIdOf(construct: { node: { defaultChild?: unknown } }): string {
  const child = construct.node.defaultChild as never;
  return Stack.of(child).getLogicalId(child);
}

/**
 * Expects `template` to hold one Lambda function, `logicalId`, with the runtime settings every
 * runlane function shares, its own timeout, and every variable its handler (`requiredEnv`) reads
 * at cold start. Returns its environment variables, for the values particular to it.
 */
export function expectTheOnlyFunction(
  template: Template,
  expected: {
    readonly logicalId: string;
    readonly timeoutSeconds: number;
    readonly requiredEnv: keyof typeof REQUIRED_RUNTIME_ENV;
  },
): Record<string, unknown> {
  const functions = template.findResources('AWS::Lambda::Function');
  expect(Object.keys(functions)).toEqual([expected.logicalId]);
  const props = functions[expected.logicalId]?.Properties;
  expect(props).toMatchObject({
    Runtime: 'nodejs24.x',
    Architectures: ['arm64'],
    Timeout: expected.timeoutSeconds,
    MemorySize: 256,
    TracingConfig: { Mode: 'Active' },
    Handler: 'index.handler',
  });
  const variables = props.Environment.Variables as Record<string, unknown>;
  expect(Object.keys(variables)).toEqual(
    expect.arrayContaining(REQUIRED_RUNTIME_ENV[expected.requiredEnv].map((key) => RUNTIME_ENV[key])),
  );
  return variables;
}
