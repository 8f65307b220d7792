import { vi } from 'vitest';

/** What a CLI entry point returned, and what it printed through `console.log` / `console.error`. */
export interface ConsoleRun<T> {
  readonly status: T;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs an in-process CLI entry point with `console.log` and `console.error` captured (lines
 * joined with `\n`), restoring both afterwards.
 *
 * @example
 * const { status, stdout } = await captureConsole(() => runCli(['trace', '--help']));
 */
export async function captureConsole<T>(run: () => Promise<T>): Promise<ConsoleRun<T>> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => {
    stdout.push(parts.join(' '));
  });
  const error = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => {
    stderr.push(parts.join(' '));
  });
  try {
    const status = await run();
    return { status, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}
