/**
 * Starts DynamoDB Local and the SQS emulator once per test run and hands their
 * endpoints to every integration test file (`inject('dynamoEndpoint')`).
 * Test files isolate themselves with uniquely named tables and queues
 * (`createTestEnvironment()` in test/helpers).
 */
import type { TestProject } from 'vitest/node';
import { startEmulators } from '#local/emulators/start-emulators.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of DynamoDB Local (shared database). */
    dynamoEndpoint: string;
    /** `http://127.0.0.1:<port>` of the SQS emulator. */
    sqsEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulators = await startEmulators();
  project.provide('dynamoEndpoint', emulators.dynamoEndpoint);
  project.provide('sqsEndpoint', emulators.sqsEndpoint);
  if (process.env.RUNLANE_LOG_EMULATOR_STARTUP) {
    process.stderr.write(`${JSON.stringify({ message: 'emulators started', ...emulators.timings })}\n`);
  }
  return () => emulators.stop();
}
