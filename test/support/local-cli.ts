import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRunlaneConfig } from '#lib/config/environment-config.js';
import { EPHEMERAL_STACK_OPTIONS, type LocalStack, startLocalStack } from '#local/stack/start-local-stack.js';

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
    ...EPHEMERAL_STACK_OPTIONS,
  });
}

/** What a child process printed, and its exit status (null when a signal ended it). */
export interface ChildRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface NodeChildOptions {
  readonly timeoutMs: number;
  /** @default projectRoot */
  readonly cwd?: string;
  /** @default this process's environment */
  readonly env?: NodeJS.ProcessEnv;
  /** 'close' also waits for the child's stdout and stderr to end. @default 'exit' */
  readonly settleOn?: 'exit' | 'close';
}

/**
 * `node <args>` in a child process, its output collected. Async on purpose: the child may call a
 * stack this process serves. Killed after `timeoutMs`, so a hung child fails its test.
 */
export function runNodeChild(args: readonly string[], options: NodeChildOptions): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd ?? projectRoot,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once(options.settleOn ?? 'exit', (status: number | null) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** The `runlane` bin an operator runs (`bin/runlane.mjs`), in a child process. */
export function runRunlaneBin(
  args: readonly string[],
  options: Omit<NodeChildOptions, 'timeoutMs'> = {},
): Promise<ChildRun> {
  return runNodeChild([join(projectRoot, 'bin/runlane.mjs'), ...args], { timeoutMs: 60_000, ...options });
}

/** The real `runlane` CLI from source (`cli/main.ts` under tsx) in a child process, pointed at `stack`. */
export function runCli(stack: LocalStack, args: readonly string[]): Promise<ChildRun> {
  return runNodeChild(['--import', 'tsx', 'cli/main.ts', ...args, '--api-url', stack.info.apiUrl], {
    timeoutMs: 90_000,
  });
}
