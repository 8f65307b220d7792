import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseRunlaneConfig } from '../../lib/config/environment-config.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/** An ephemeral local stack in this process, on free ports, quiet, with fast retries. */
export async function startQuietLocalStack(options: {
  readonly maxReceiveCount: number;
}): Promise<LocalStack> {
  // The stack logs through Powertools in this process; keep INFO lines out of the test output.
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const cdk = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
  cdk.context.runlane.environments.dev.lanes = {
    ...cdk.context.runlane.environments.dev.lanes,
    maxReceiveCount: options.maxReceiveCount,
  };
  return startLocalStack({
    config: parseRunlaneConfig(cdk.context.runlane).environments.dev,
    apiPort: 0,
    dynamoPort: 0,
    sqsPort: 0,
    eventsPort: 0,
    dataDir: undefined,
    visibilityTimeoutSeconds: 2,
    sweepIntervalMinutes: 0,
  });
}

/**
 * The real `runlane` CLI in a child process, pointed at `stack`. Async on
 * purpose: this process serves the stack the child calls.
 */
export function runCli(
  stack: LocalStack,
  args: readonly string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bin/cli.ts', ...args, '--api-url', stack.info.apiUrl],
      {
        cwd: projectRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
