import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../support/local-cli.js';

/**
 * `runlane … | head -c 10`: the reader closes the pipe before runlane has written. The real bin in
 * a child process whose stdout pipe is closed at once: it ends quietly with its own exit code,
 * not with an unhandled EPIPE.
 */
function runWithClosedStdout(args: readonly string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(projectRoot, 'bin/runlane.mjs'), ...args], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('close', (status: number | null) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

describe('runlane writing into a pipe closed early', () => {
  it('exits quietly with its exit code, no EPIPE', async () => {
    const help = await runWithClosedStdout(['--help']);
    expect(help).toEqual({ status: 0, stderr: '' });
    const version = await runWithClosedStdout(['--version']);
    expect(version).toEqual({ status: 0, stderr: '' });
  }, 120_000);
});
