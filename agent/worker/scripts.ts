import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { ExecutionResultPayload, WorkerTaskMessage } from '#contracts/worker-contract.js';
import { CommandSpawnError } from '../errors.js';
import type { Clock } from '../runner/clock.js';
import { type RunningCommand, type Spawner, startWatched } from '../runner/watchdog.js';
import { argumentPattern, type ScriptSpec } from './config.js';
import { type LogValue, taskLogFields, type WorkerLog } from './log.js';

/** Longest `error` text of a result (the contract's limit). */
export const MAX_ERROR_CHARS = 4096;

/** Variables of the worker's own environment a script inherits; nothing else leaks (no AWS credentials). */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'] as const;

/** Keeps the first `maxBytes` written to it and counts the rest. */
export class CappedCapture extends Writable {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  /** More than `maxBytes` arrived. */
  public truncated = false;

  public constructor(private readonly maxBytes: number) {
    super();
  }

  public override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    const room = this.maxBytes - this.kept;
    if (chunk.length > room) this.truncated = true;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.chunks.push(Buffer.from(part));
      this.kept += part.length;
    }
    done();
  }

  /** The kept bytes as UTF-8 (a character cut by the cap becomes U+FFFD). */
  public text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** What a script run needs besides the task. */
export interface ScriptRunDeps {
  readonly log: WorkerLog;
  /** The worker's environment, for {@link INHERITED_ENV}. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  readonly spawner?: Spawner;
  /** Called with the running script, so a shutdown can abort it. */
  readonly onStarted?: (running: RunningCommand) => void;
}

/** Cuts an error text to the contract's limit. */
export function clipError(text: string): string {
  return text.length <= MAX_ERROR_CHARS ? text : `${text.slice(0, MAX_ERROR_CHARS - 1)}…`;
}

/**
 * Checks a task's arguments against the script's allowlist entry; the first problem, naming
 * the argument's index, or undefined when they are allowed.
 */
export function checkArguments(spec: ScriptSpec, args: readonly string[]): string | undefined {
  if (args.length > spec.args.maxCount) {
    return `script takes at most ${spec.args.maxCount} argument(s), got ${args.length}`;
  }
  if (args.length === 0 || spec.args.pattern === undefined) return undefined;
  const pattern = argumentPattern(spec.args.pattern);
  const bad = args.findIndex((arg) => !pattern.test(arg));
  return bad < 0 ? undefined : `args.${bad} does not match the allowlist pattern ${spec.args.pattern}`;
}

/**
 * `execute_script` for an allowlisted script: arguments checked, the file's SHA-256 taken now,
 * run without a shell in its own process group under the timeout (the whole tree killed when it
 * fires), stdout/stderr kept up to `maxOutputBytes` each. Logs one `script_executed` line.
 * Never throws: every failure is a `failed` payload with its errorCode.
 *
 * @example
 * const payload = await runScript(message, 'rotate-logs', [], spec, { log, env: process.env, clock: systemClock });
 */
export async function runScript(
  message: WorkerTaskMessage,
  name: string,
  args: readonly string[],
  spec: ScriptSpec,
  deps: ScriptRunDeps,
): Promise<ExecutionResultPayload> {
  const started = deps.clock.now();
  const elapsed = (): number => Math.max(0, Math.round(deps.clock.now() - started));
  const failed = (errorCode: string, error: string, extra: Partial<ExecutionResultPayload> = {}) =>
    ({ status: 'failed', errorCode, error: clipError(error), durationMs: elapsed(), ...extra }) as const;

  const argumentProblem = checkArguments(spec, args);
  if (argumentProblem !== undefined) return failed('invalid_arguments', argumentProblem);

  let sha256: string;
  try {
    sha256 = createHash('sha256')
      .update(await readFile(spec.path))
      .digest('hex');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    deps.log.event('script_unavailable', { ...taskLogFields(message), script: name, path: spec.path, code });
    return failed('script_unavailable', `script ${name} (${spec.path}) cannot be read: ${code}`);
  }

  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = deps.env[key];
    if (value !== undefined) env[key] = value;
  }
  Object.assign(env, spec.env, {
    RUNLANE_TASK_ID: message.taskId,
    RUNLANE_TASK_ATTEMPT: String(message.attempt),
    RUNLANE_COMMAND_ID: message.commandId,
    RUNLANE_CORRELATION_ID: message.correlationId,
  });
  const stdout = new CappedCapture(spec.maxOutputBytes);
  const stderr = new CappedCapture(spec.maxOutputBytes);
  const logExecuted = (fields: Record<string, LogValue>): void =>
    deps.log.event('script_executed', {
      ...taskLogFields(message),
      script: name,
      path: spec.path,
      sha256,
      args: [...args],
      ...fields,
    });

  let running: RunningCommand;
  try {
    running = startWatched(spec.path, args, {
      // The idle deadline never fires first: it is measured from the last output, the hard one from the start.
      timeouts: { idleMs: spec.timeoutMs, hardMs: spec.timeoutMs, killGraceMs: spec.killGraceMs },
      tailLines: 1,
      stdout,
      stderr,
      stdin: 'ignore',
      cwd: spec.cwd,
      env,
      clock: deps.clock,
      spawner: deps.spawner,
    });
  } catch (error) {
    return spawnFailure(error, name, spec, sha256, failed, logExecuted);
  }
  deps.onStarted?.(running);
  let result: Awaited<RunningCommand['result']>;
  try {
    result = await running.result;
  } catch (error) {
    return spawnFailure(error, name, spec, sha256, failed, logExecuted);
  }
  const output = {
    stdout: stdout.text(),
    stderr: stderr.text(),
    truncated: stdout.truncated || stderr.truncated,
    scriptSha256: sha256,
    exitCode: result.exitCode,
  };
  logExecuted({
    exit_code: result.exitCode,
    signal: result.signal ?? undefined,
    duration_ms: elapsed(),
    timeout: result.stall === undefined ? undefined : true,
    truncated: output.truncated || undefined,
  });
  if (result.stall !== undefined) {
    return failed(
      'timeout',
      `script ${name} ran longer than ${spec.timeoutMs} ms; its process tree (${result.stall.kill.pids.length} processes) was killed`,
      output,
    );
  }
  if (result.aborted !== undefined) {
    return failed(
      'worker_shutdown',
      `the worker shut down (${result.aborted.signal}) while script ${name} ran; its process tree was killed`,
      output,
    );
  }
  if (result.exitCode !== 0) {
    return failed(
      'exit_code',
      result.exitCode === null
        ? `script ${name} was ended by ${result.signal ?? 'a signal'}`
        : `script ${name} exited with code ${result.exitCode}`,
      output,
    );
  }
  return { status: 'succeeded', durationMs: elapsed(), ...output };
}

function spawnFailure(
  error: unknown,
  name: string,
  spec: ScriptSpec,
  sha256: string,
  failed: (
    errorCode: string,
    error: string,
    extra?: Partial<ExecutionResultPayload>,
  ) => ExecutionResultPayload,
  logExecuted: (fields: Record<string, LogValue>) => void,
): ExecutionResultPayload {
  if (!(error instanceof CommandSpawnError)) throw error;
  logExecuted({ exit_code: null, spawn_error: error.code ?? 'unknown' });
  return failed(
    'script_unavailable',
    `script ${name} (${spec.path}) cannot be started: ${error.code ?? 'unknown error'}`,
    {
      scriptSha256: sha256,
    },
  );
}
