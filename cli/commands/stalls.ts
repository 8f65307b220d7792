import type { RunnerStallEvent } from '#contracts/agent-events.js';
import { countBy, inReportWindow, type StallBreakdownField } from '#core/runner/report.js';
import { UsageError } from '../errors.js';
import { requireStallFile, skippedLines, skippedNote } from '../report/evidence-source.js';
import { formatDuration, printable } from '../report/format.js';
import { breakdownLines, table } from '../report/render-text.js';

/** The options of `runlane stalls tail` (cli/definitions/stalls.ts). */
export interface StallsTailOptions {
  readonly lines: number;
  readonly evidence: string;
  readonly json?: boolean | undefined;
}

/** The options of `runlane stalls by <field>` (cli/definitions/stalls.ts). */
export interface StallsByOptions {
  readonly tail?: number | undefined;
  /** Milliseconds. */
  readonly since?: number | undefined;
  readonly now?: Date | undefined;
  readonly evidence: string;
  readonly json?: boolean | undefined;
}

/**
 * `runlane stalls tail`: the last `-n` stalls of the evidence file, oldest first.
 *
 * @example
 * process.exitCode = await runStallsTail({ lines: 10, evidence: 'evidence/runner/stall-events.jsonl' });
 */
export async function runStallsTail(options: StallsTailOptions): Promise<number> {
  return tail(options.evidence, options.lines, options.json === true);
}

/**
 * `runlane stalls by <field>`: how many stalls have each value of the field.
 *
 * @example
 * process.exitCode = await runStallsBy('rootCause', { since: 1_800_000, evidence });
 */
export async function runStallsBy(field: StallBreakdownField, options: StallsByOptions): Promise<number> {
  if (options.now !== undefined && options.since === undefined)
    throw new UsageError('--now sets the end of --since; give --since too');
  const { since } = options;
  return by(options.evidence, field, {
    tail: options.tail ?? (since === undefined ? 50 : 0),
    since: since === undefined ? undefined : { ms: since, now: options.now ?? new Date() },
    json: options.json === true,
  });
}

async function tail(file: string, lines: number, json: boolean): Promise<number> {
  const read = await requireStallFile(file);
  const events = lines === 0 ? read.events : read.events.slice(-lines);
  if (json) {
    console.log(JSON.stringify({ file, events, skipped: skippedLines(read) }, null, 2));
    return 0;
  }
  reportSkipped(read);
  if (events.length === 0) {
    console.log(`no stalls in ${file}`);
    return 0;
  }
  console.log(
    table(
      ['TIME', 'ENVIRONMENT', 'HOST', 'COMMAND TYPE', 'ROOT CAUSE', 'TIMEOUT', 'ELAPSED', 'EVIDENCE'],
      events.map((e) => [
        e.ts,
        printable(e.environment),
        printable(e.host),
        printable(e.commandType),
        e.rootCause,
        e.timeout,
        formatDuration(e.elapsedMs),
        firstEvidence(e),
      ]),
    ).join('\n'),
  );
  return 0;
}

async function by(
  file: string,
  field: StallBreakdownField,
  options: {
    readonly tail: number;
    readonly since: { readonly ms: number; readonly now: Date } | undefined;
    readonly json: boolean;
  },
): Promise<number> {
  const read = await requireStallFile(file);
  const { since } = options;
  let events: readonly RunnerStallEvent[] = since
    ? read.events.filter((e) =>
        inReportWindow(e.ts, { from: new Date(since.now.getTime() - since.ms), to: since.now }),
      )
    : read.events;
  if (options.tail > 0) events = events.slice(-options.tail);
  const values = countBy(events, field);
  const sinceIso = since ? new Date(since.now.getTime() - since.ms).toISOString() : undefined;
  if (options.json) {
    const summary = {
      file,
      field,
      tail: options.tail > 0 ? options.tail : null,
      since: sinceIso ?? null,
      total: events.length,
      values,
      skipped: skippedLines(read),
    };
    console.log(JSON.stringify(summary, null, 2));
    return 0;
  }
  const scope =
    [options.tail > 0 ? `last ${options.tail}` : '', sinceIso ? `since ${sinceIso}` : '']
      .filter(Boolean)
      .join(' ') || 'all';
  reportSkipped(read);
  console.log(`Stalls by ${field} (${events.length} stalls; ${scope}) in ${file}`);
  console.log(breakdownLines(values).join('\n'));
  return 0;
}

function firstEvidence(event: RunnerStallEvent): string {
  const [first = '', ...more] = event.evidence;
  const line = printable(first.length > 80 ? `${first.slice(0, 79)}…` : first);
  return more.length > 0 ? `${line} (+${more.length})` : line;
}

function reportSkipped(read: Parameters<typeof skippedNote>[0]): void {
  const note = skippedNote(read);
  if (note) console.error(`note: ${printable(note)}`);
}
