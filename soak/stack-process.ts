/**
 * The local stack as a user runs it (`node bin/runlane.mjs local`, what `npm start` runs), in a
 * child process that leads its own process group, so one SIGKILL takes down the whole stack
 * (Node, DynamoDB Local's JVM, everything) the way `kill -9 -<pgid>` does. Restarted on the same
 * data folder and the same ports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalStackInfo } from '#local/stack/start-local-stack.js';

const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
const READY_TIMEOUT_MS = 120_000;

export interface StackPorts {
  readonly api: number;
  readonly dynamo: number;
  readonly sqs: number;
  readonly events: number;
}

export interface StackProcessOptions {
  /** The stack's data folder (`--data-dir`). */
  readonly dataDir: string;
  /** Where each start's stdout and stderr go: `stack-<n>.log` in this folder. */
  readonly logDir: string;
  readonly ports: StackPorts;
  /** `--visibility-timeout`, seconds; undefined keeps the stack's default. */
  readonly visibilityTimeoutSeconds: number | undefined;
  /** Called when the stack exits without `kill()` or `stop()` (after it had started). */
  readonly onUnexpectedExit?: (code: number | null) => void;
}

/** A start that did not come up: its log's last lines say why. */
export class StackStartError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StackStartError';
  }
}

/** Four free ports on 127.0.0.1, chosen once so every restart listens where the first start did. */
export async function freePorts(): Promise<StackPorts> {
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : 0;
        server.close(() => resolve(port));
      });
    });
  const [api, dynamo, sqs, events] = [await one(), await one(), await one(), await one()];
  return { api, dynamo, sqs, events };
}

/**
 * @example
 * const stack = new StackProcess({ dataDir, logDir, ports: await freePorts(), visibilityTimeoutSeconds: undefined });
 * const info = await stack.start();
 * await stack.kill(); // SIGKILL to the process group
 * await stack.start(); // same folder, same ports
 */
export class StackProcess {
  readonly #options: StackProcessOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #starts = 0;
  #info: LocalStackInfo | undefined;
  #expectingExit = false;
  /** Pids of the stack processes killed so far (a drill execution's pid tells which life it ran in). */
  readonly killedPids: number[] = [];

  public constructor(options: StackProcessOptions) {
    this.#options = options;
  }

  /** The info of the running stack; undefined while it is down or starting. */
  public get info(): LocalStackInfo | undefined {
    return this.#info;
  }

  public get starts(): number {
    return this.#starts;
  }

  public get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Spawns the stack and waits until its API answers `/_local/info`. */
  public async start(): Promise<LocalStackInfo> {
    this.#starts += 1;
    const { dataDir, logDir, ports, visibilityTimeoutSeconds } = this.#options;
    const logFile = join(logDir, `stack-${this.#starts}.log`);
    const log = openSync(logFile, 'a');
    const args = [
      'bin/runlane.mjs',
      'local',
      '--data-dir',
      dataDir,
      '--port',
      String(ports.api),
      '--dynamo-port',
      String(ports.dynamo),
      '--sqs-port',
      String(ports.sqs),
      '--events-port',
      String(ports.events),
      ...(visibilityTimeoutSeconds === undefined
        ? []
        : ['--visibility-timeout', String(visibilityTimeoutSeconds)]),
    ];
    const child = spawn(process.execPath, args, {
      cwd: PROJECT_ROOT,
      detached: true,
      stdio: ['ignore', log, log],
      env: process.env,
    });
    this.#child = child;
    this.#expectingExit = false;
    let exitCode: number | null | undefined;
    let ready = false;
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitCode = code ?? (signal ? -1 : null);
        if (ready && !this.#expectingExit) {
          this.#info = undefined;
          this.#options.onUnexpectedExit?.(exitCode);
        }
        resolve();
      });
    });
    const apiUrl = `http://127.0.0.1:${ports.api}`;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exitCode !== undefined) {
        throw new StackStartError(`the local stack exited (${exitCode}) while starting; see ${logFile}`);
      }
      try {
        const response = await fetch(`${apiUrl}/_local/info`, { signal: AbortSignal.timeout(2_000) });
        if (response.ok) {
          this.#info = (await response.json()) as LocalStackInfo;
          ready = true;
          return this.#info;
        }
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    await this.kill();
    throw new StackStartError(
      `the local stack was not ready within ${READY_TIMEOUT_MS / 1000} s; see ${logFile}`,
    );
  }

  /** SIGKILL to the stack's whole process group, then waits for the stack process to be gone. */
  public async kill(): Promise<void> {
    const child = this.#child;
    this.#info = undefined;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    this.#expectingExit = true;
    this.killedPids.push(child.pid);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is already gone
    }
    await this.#exited;
    // The JVM and any other member of the group die with the signal; give the kernel a moment to free their ports.
    await sleep(200);
  }

  /** Stops the stack as Ctrl-C does (SIGTERM, in-flight batches finish), SIGKILL after `graceMs`. */
  public async stop(graceMs = 45_000): Promise<void> {
    const child = this.#child;
    this.#info = undefined;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    this.#expectingExit = true;
    child.kill('SIGTERM');
    const stopped = await Promise.race([this.#exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!stopped) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await this.#exited;
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
