/**
 * An unexpected error in the supervisor (a bug) ends it: a crash report is written (seed 001
 * P1-001 step 3: Node has no core dump of JavaScript state, its diagnostic report is the
 * backtrace), the children's process groups get SIGTERM, one `Panic: <error>` line is the last
 * log line (P1-001 step 2 looks for it at the end of the journal), and the process exits 70
 * (EX_SOFTWARE). The pid file stays, so the next start finds and terminates any child that survived.
 */
import { chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Exit code after a panic (sysexits EX_SOFTWARE). */
export const PANIC_EXIT_CODE = 70;

/** `Panic: Error: boom at start (file.ts:12:3)`: one line, the first stack frame included. */
export function formatPanic(error: unknown): string {
  if (error instanceof Error) {
    const frame = error.stack
      ?.split('\n')
      .find((line) => /^\s+at\s/.test(line))
      ?.trim();
    return `Panic: ${error.name}: ${error.message.replaceAll('\n', ' ')}${frame === undefined ? '' : ` ${frame}`}`;
  }
  return `Panic: ${String(error).replaceAll('\n', ' ')}`;
}

export interface PanicHandlerOptions {
  readonly log: (line: string) => void;
  /**
   * Writes the crash report for `error`, returns its path (or undefined when none was written).
   * See {@link writeCrashReport}. Must not throw.
   */
  readonly writeReport?: (error: unknown) => string | undefined;
  /** @default process.exit */
  readonly exit?: (code: number) => void;
  /** Called before exiting, e.g. `() => supervisor.signalChildrenNow()`. Must not throw. */
  readonly beforeExit?: () => void;
}

/**
 * The handler for `uncaughtException` / `unhandledRejection`.
 *
 * @example
 * const onPanic = createPanicHandler({ log: (line) => process.stderr.write(`${line}\n`), beforeExit: () => supervisor.signalChildrenNow() });
 * process.on('uncaughtException', onPanic);
 * process.on('unhandledRejection', onPanic);
 */
export function createPanicHandler(options: PanicHandlerOptions): (error: unknown) => void {
  let panicked = false;
  return (error) => {
    if (panicked) return;
    panicked = true;
    let report: string | undefined;
    try {
      report = options.writeReport?.(error);
    } catch {
      // the report is a help, not a condition of exiting
    }
    try {
      options.beforeExit?.();
    } catch {
      // already failing; exit regardless
    }
    options.log(`${formatPanic(error)}${report === undefined ? '' : ` crash_report=${report}`}`);
    (options.exit ?? ((code: number) => process.exit(code)))(PANIC_EXIT_CODE);
  };
}

/** Installs {@link createPanicHandler} on `proc`; returns the uninstaller. */
export function installPanicHandlers(
  options: PanicHandlerOptions,
  proc: Pick<NodeJS.Process, 'on' | 'off'> = process,
): () => void {
  const handler = createPanicHandler(options);
  proc.on('uncaughtException', handler);
  proc.on('unhandledRejection', handler);
  return () => {
    proc.off('uncaughtException', handler);
    proc.off('unhandledRejection', handler);
  };
}

/**
 * Where crash reports go: `crashReportDirectory`, by default the supervisor's state folder (the
 * pid file's), never the shared /tmp. A private folder (0700), checked at start.
 */
export function crashReportDirectoryOf(
  config: { readonly crashReportDirectory?: string | undefined; readonly pidFile: string },
  cwd: string,
): string {
  return resolve(cwd, config.crashReportDirectory ?? dirname(config.pidFile));
}

/**
 * Node's diagnostic report of the running process for `error` (JavaScript and native stacks,
 * heap statistics, open handles, resource usage) as
 * `<directory>/runlane-supervisor-panic-<yyyymmddThhmmss>-<pid>.json`, mode 0600; returns that path, or
 * undefined when it could not be written (a full disk must not stop the exit). The process is
 * about to exit, so the report settings are not restored.
 */
export function writeCrashReport(
  directory: string,
  error: unknown,
  now: Date = new Date(),
): string | undefined {
  const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15);
  const name = `runlane-supervisor-panic-${stamp}-${process.pid}.json`;
  try {
    // 0600 from the first byte (the process is about to exit: the umask is not restored).
    process.umask(0o077);
    process.report.directory = directory;
    // The environment holds credentials (AWS_SECRET_ACCESS_KEY …): keep it out of a file in /tmp.
    process.report.excludeEnv = true;
    const written = process.report.writeReport(
      name,
      error instanceof Error ? error : new Error(String(error)),
    );
    if (written === '') return undefined; // could not open the file
    const path = join(directory, name);
    chmodSync(path, 0o600);
    return path;
  } catch {
    return undefined;
  }
}
