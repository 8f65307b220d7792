/**
 * An unexpected error in the supervisor (a bug) ends it: one `Panic: <error>` line (seed 001
 * P1-001 step 2 looks for it at the end of the journal), the children's process groups get
 * SIGTERM, and the process exits 70 (EX_SOFTWARE). The pid file stays, so the next start
 * finds and terminates any child that survived.
 */

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
    options.log(formatPanic(error));
    try {
      options.beforeExit?.();
    } catch {
      // already failing; exit regardless
    }
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
