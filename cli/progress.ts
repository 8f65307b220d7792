import { canRedrawProgress } from '#common/cli-program.js';

/** A line of progress a long command keeps up to date on stderr. */
export interface ProgressLine {
  update(text: string): void;
  /** Ends the line: the last state stays visible. */
  done(): void;
}

/** Where progress goes: stderr, or a test's stand-in. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * Progress on `stream`: redrawn in place with `\r` where {@link canRedrawProgress} allows it (a
 * terminal, no NO_COLOR, no TERM=dumb); elsewhere (a pipe, a log file) printed as whole lines, at
 * most one every `intervalMs`, and the last state at the end.
 *
 * @example
 * const progress = progressLine(process.stderr);
 * progress.update('found 3  replayed 1');
 * progress.done();
 */
export function progressLine(
  stream: ProgressStream,
  options: {
    readonly env?: Readonly<Record<string, string | undefined>>;
    readonly now?: () => number;
    readonly intervalMs?: number;
  } = {},
): ProgressLine {
  if (canRedrawProgress(stream, options.env)) {
    let drawn = false;
    return {
      update: (text) => {
        // Trailing spaces clear what a longer previous state left on the line.
        stream.write(`\r${text}   `);
        drawn = true;
      },
      done: () => {
        if (drawn) stream.write('\n');
      },
    };
  }
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 1000;
  let latest: string | undefined;
  let printed: string | undefined;
  let printedAt = Number.NEGATIVE_INFINITY;
  return {
    update: (text) => {
      latest = text;
      if (text === printed || now() - printedAt < intervalMs) return;
      stream.write(`${text}\n`);
      printed = text;
      printedAt = now();
    },
    done: () => {
      if (latest !== undefined && latest !== printed) stream.write(`${latest}\n`);
    },
  };
}
