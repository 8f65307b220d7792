import { parseArgs } from 'node:util';
import { isSubcommand } from '#common/command-line.js';
import { RUNNER_EVIDENCE_FILES, type RunnerStallEvent } from '#contracts/agent-events.js';
import {
  countBy,
  inReportWindow,
  STALL_BREAKDOWN_FIELDS,
  type StallBreakdownField,
} from '#core/runner/report.js';
import { STALLS_SPEC } from '../cli-spec.js';
import { UsageError } from '../commands.js';
import { requireStallFile, skippedLines, skippedNote } from '../report/evidence-source.js';
import { formatDuration, printable } from '../report/format.js';
import { parseCount, parseDuration, parseNow } from '../report/options.js';
import { breakdownLines, table } from '../report/render-text.js';

export const STALLS_HELP = `runlane stalls — the runner's stall evidence, as seed 002's incident one-liners.

Usage:
  runlane stalls tail [-n 10] [--evidence <file>] [--json]
      the last N stalls of the evidence file, oldest first (Get-Content … -Tail 10)
  runlane stalls by <${STALL_BREAKDOWN_FIELDS.join('|')}> [--tail 50] [--since 30m] [--evidence <file>] [--json]
      how many stalls have each value, most first, with each value's share (… | Group-Object):
      of the last --tail stalls (default 50); with --since <duration> (90s, 30m, 2h, 1d) of the
      stalls newer than now minus it, all of them unless --tail is given too

Options:
  --evidence <file>    stall events (default ${RUNNER_EVIDENCE_FILES.stalls})
  -n, --lines <n>      tail: how many stalls (default 10; 0 = all)
  --tail <n>           by: how many of the latest stalls to count (0 = all)
  --since <duration>   by: only stalls with now − duration < ts ≤ now
  --now <iso>          by: the "now" of --since (default: now)
  --json               JSON instead of text
  --help
Invalid lines and an unfinished last line (a write in progress) are skipped and counted.
Exit codes: 0 success, 1 failure (e.g. no evidence file), 2 bad usage.`;

/**
 * `runlane stalls tail|by <field>`.
 *
 * @example
 * process.exitCode = await runStalls(['by', 'rootCause', '--since', '30m']);
 */
export async function runStalls(argv: readonly string[]): Promise<number> {
  try {
    return await stalls(argv);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`runlane stalls: ${(error as Error).message}\n\n${STALLS_HELP}`);
      return 2;
    }
    throw error;
  }
}

async function stalls(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: STALLS_SPEC.options,
    strict: true,
  });
  if (values.help) {
    console.log(STALLS_HELP);
    return 0;
  }
  const [subcommand, ...rest] = positionals;
  if (!isSubcommand(STALLS_SPEC, subcommand)) {
    throw new UsageError(
      subcommand === undefined ? 'give tail or by <field>' : `unknown stalls command "${subcommand}"`,
    );
  }
  if (subcommand === 'tail') {
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    if (values.tail !== undefined || values.since !== undefined || values.now !== undefined)
      throw new UsageError('--tail, --since and --now go with "stalls by"; tail takes -n');
    return await tail(values.evidence, parseCount(values.lines, '-n', 10), values.json);
  }
  // by <field>
  const [field, ...extra] = rest;
  if (field === undefined)
    throw new UsageError(`give a field to group by: ${STALL_BREAKDOWN_FIELDS.join(', ')}`);
  if (!isField(field))
    throw new UsageError(`cannot group by "${field}": the fields are ${STALL_BREAKDOWN_FIELDS.join(', ')}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (values.lines !== undefined) throw new UsageError('-n goes with "stalls tail"; by takes --tail');
  if (values.now !== undefined && values.since === undefined)
    throw new UsageError('--now sets the end of --since; give --since too');
  const sinceMs = values.since === undefined ? undefined : parseDuration(values.since, '--since');
  return await by(values.evidence, field, {
    tail: parseCount(values.tail, '--tail', sinceMs === undefined ? 50 : 0),
    since: sinceMs === undefined ? undefined : { ms: sinceMs, now: parseNow(values.now) },
    json: values.json,
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

function isField(value: string): value is StallBreakdownField {
  return (STALL_BREAKDOWN_FIELDS as readonly string[]).includes(value);
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
