import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { EventBridgeSender } from '#agent/reporter/event-bridge-sender.js';
import { localDynamoDbClient, localEventBridgeClient } from '#local/emulators/clients.js';
import {
  EPHEMERAL_STACK_OPTIONS,
  type LocalStack,
  type LocalStackOptions,
  startLocalStack,
} from '#local/stack/start-local-stack.js';
import { createDocumentClient } from '#wiring/clients.js';
import { environmentConfig } from '../infra/support.js';

/**
 * A local stack for one test file: every port chosen by the OS, nothing on disk, no sweep timer,
 * redelivery after 2 s, people-readable logs. `options` override any of that.
 */
export function startTestLocalStack(options: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  return startLocalStack({
    config: environmentConfig(),
    ...EPHEMERAL_STACK_OPTIONS,
    pretty: true,
    ...options,
  });
}

/**
 * A test local stack for the enclosing `describe`: started before its tests (90 s allowed, the
 * emulators start with it), stopped after them. Call the returned function inside a test or hook.
 */
export function useTestLocalStack(options: Partial<LocalStackOptions> = {}): () => LocalStack {
  let stack: LocalStack | undefined;
  beforeAll(async () => {
    stack = await startTestLocalStack(options);
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error('the local stack starts in beforeAll: read it inside a test or hook');
    return stack;
  };
}

/** The stack's lifecycle table, as a DynamoDB store adapter takes it. */
export function localStackTable(stack: LocalStack): { client: DynamoDBDocumentClient; tableName: string } {
  return {
    client: createDocumentClient(localDynamoDbClient(stack.info.dynamoEndpoint)),
    tableName: stack.info.tableName,
  };
}

/** The agent's own EventBridge sender, pointed at the stack's bus. */
export function agentSenderTo(stack: LocalStack): EventBridgeSender {
  return new EventBridgeSender({
    client: localEventBridgeClient(stack.info.eventsEndpoint),
    busName: stack.info.busName,
  });
}
