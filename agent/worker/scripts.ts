import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Writable } from 'node:stream';
import type { ExecutionResultPayload, WorkerTaskMessage } from '#contracts/worker-contract.js';
import { CommandSpawnError } from '../errors.js';
import { childEnvironment } from '../runner/child-env.js';
import type { Clock } from '../runner/clock.js';
import { redactSecrets } from '../runner/redact.js';
import { type RunningCommand, type Spawner, startWatched } from '../runner/watchdog.js';
import { argumentPattern, type ScriptSpec } from './config.js';
import { type LogValue, taskLogFields, type WorkerLog } from './log.js';

/** Longest `error` text of a result (the contract's limit). */
export const MAX_ERROR_CHARS = 4096;

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
  /** The worker's environment: a script inherits only its `inheritEnv` variables. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The config's `inheritEnv`. */
  readonly inheritEnv: readonly string[];
  /** Where each run's private folder with the verified copy is made. @default os.tmpdir() */
  readonly stagingDirectory?: string;
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
 * `execute_script` for an allowlisted script: arguments checked; the file read once, its SHA-256
 * compared with the allowlist's `sha256` (`script_hash_mismatch` otherwise, nothing run), and
 * exactly those bytes executed: they are written to a fresh private folder (0700, `O_EXCL`, never
 * following a link) and that copy runs, so a file changed or swapped after the check never runs.
 * Without a shell, in its own process group under the timeout (the whole tree killed when it
 * fires; what it leaves in its group is stopped when it exits), with an explicit environment
 * (`inheritEnv`, AWS credentials only with `inheritAwsCredentials`, `env`, RUNLANE_*);
 * stdout/stderr kept up to `maxOutputBytes` each, credential-looking strings redacted. Logs one
 * `script_executed` line. Never throws: every failure is a `failed` payload with its errorCode.
 *
 * The copy's `$0` is in the private folder, not `spec.path` (given as RUNLANE_SCRIPT_PATH): a
 * script that finds its siblings through `dirname "$0"` should use `cwd` instead.
 *
 * @example
 * const payload = await runScript(message, 'rotate-logs', [], spec, { log, env: process.env, inheritEnv: ['PATH'], clock: systemClock });
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

  let content: Buffer;
  try {
    content = await readFile(spec.path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    deps.log.event('script_unavailable', { ...taskLogFields(message), script: name, path: spec.path, code });
    return failed('script_unavailable', `script ${name} (${spec.path}) cannot be read: ${code}`);
  }
  const sha256 = createHash('sha256').update(content).digest('hex');
  if (sha256 !== spec.sha256) {
    deps.log.event('script_hash_mismatch', {
      ...taskLogFields(message),
      script: name,
      path: spec.path,
      sha256,
      expected_sha256: spec.sha256,
    });
    return failed(
      'script_hash_mismatch',
      `script ${name} (${spec.path}) has SHA-256 ${sha256}, not the allowlist's ${spec.sha256}; nothing was run`,
      { scriptSha256: sha256 },
    );
  }

  let staged: { readonly file: string; readonly folder: string };
  try {
    staged = await stageVerified(content, spec.path, deps.stagingDirectory ?? tmpdir());
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    deps.log.event('script_unavailable', { ...taskLogFields(message), script: name, path: spec.path, code });
    return failed('script_unavailable', `script ${name}: its verified copy cannot be staged: ${code}`, {
      scriptSha256: sha256,
    });
  }
  try {
    return await runStaged(message, name, args, spec, deps, { sha256, file: staged.file, failed, elapsed });
  } finally {
    await rm(staged.folder, { recursive: true, force: true }).catch(() => undefined);
  }
}

type Failed = (
  errorCode: string,
  error: string,
  extra?: Partial<ExecutionResultPayload>,
) => ExecutionResultPayload;

/**
 * Writes the verified bytes to `<base>/runlane-script-XXXXXX/<name>`: the folder made by mkdtemp
 * (0700, a fresh name), the file created with O_EXCL | O_NOFOLLOW, 0700, closed before the exec.
 */
async function stageVerified(
  content: Buffer,
  path: string,
  base: string,
): Promise<{ readonly file: string; readonly folder: string }> {
  const folder = await mkdtemp(join(base, 'runlane-script-'));
  try {
    const file = join(folder, basename(path));
    const handle = await open(
      file,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o700,
    );
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    return { file, folder };
  } catch (error) {
    await rm(folder, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

async function runStaged(
  message: WorkerTaskMessage,
  name: string,
  args: readonly string[],
  spec: ScriptSpec,
  deps: ScriptRunDeps,
  run: {
    readonly sha256: string;
    readonly file: string;
    readonly failed: Failed;
    readonly elapsed: () => number;
  },
): Promise<ExecutionResultPayload> {
  const { sha256, failed, elapsed } = run;
  const env = childEnvironment(deps.env, {
    inherit: deps.inheritEnv,
    awsCredentials: spec.inheritAwsCredentials,
    extra: {
      ...spec.env,
      RUNLANE_TASK_ID: message.taskId,
      RUNLANE_TASK_ATTEMPT: String(message.attempt),
      RUNLANE_COMMAND_ID: message.commandId,
      RUNLANE_CORRELATION_ID: message.correlationId,
      RUNLANE_SCRIPT_PATH: spec.path,
    },
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
    running = startWatched(run.file, args, {
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
      stopOrphans: true,
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
    // The output leaves the host in the result: credential-looking strings are redacted.
    stdout: redactSecrets(stdout.text()),
    stderr: redactSecrets(stderr.text()),
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
    orphans_stopped: result.orphans?.stopped,
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
  failed: Failed,
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
