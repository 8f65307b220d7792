import { stat } from 'node:fs/promises';
import { readEvidence, readRunSummaries } from '#common/runner-evidence.js';
import type { RunnerRunSummaryEvent, RunnerStallEvent } from '#contracts/agent-events.js';
import {
  inReportWindow,
  type ReportWindow,
  type RunnerEventSource,
  type RunnerEvents,
} from '#core/runner/report.js';

/** An evidence file the command needs does not exist; the CLI exits 1 with the message. */
export class EvidenceFileMissingError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'EvidenceFileMissingError';
  }
}

/** Events read from one JSON Lines file, and what was skipped. */
export interface JsonLinesFile<T> {
  readonly file: string;
  readonly events: readonly T[];
  /** Complete lines that are not valid events. */
  readonly invalidLines: number;
  /** The file ended in an unfinished line (a write in progress, or cut by a crash); it is not read. */
  readonly tornTail: boolean;
}

/** Lines skipped in a file: invalid lines plus an unfinished last line. */
export function skippedLines(read: JsonLinesFile<unknown>): number {
  return read.invalidLines + (read.tornTail ? 1 : 0);
}

/** A note for the reader when lines were skipped, e.g. "f: skipped 1 invalid line and an unfinished last line". */
export function skippedNote(read: JsonLinesFile<unknown>): string | undefined {
  if (skippedLines(read) === 0) return undefined;
  const parts = [
    ...(read.invalidLines > 0
      ? [`${read.invalidLines} invalid line${read.invalidLines === 1 ? '' : 's'}`]
      : []),
    ...(read.tornTail ? ['an unfinished last line (a write in progress, or a crash)'] : []),
  ];
  return `${read.file}: skipped ${parts.join(' and ')}`;
}

/**
 * The stall evidence file, read with the agent's own reader (only complete lines that
 * validate become events), or undefined when it does not exist.
 */
export async function readStallFile(file: string): Promise<JsonLinesFile<RunnerStallEvent> | undefined> {
  if (!(await exists(file))) return undefined;
  const { events, invalidLines, tornTail } = await readOrExplain(file, readEvidence);
  return { file, events, invalidLines, tornTail };
}

/** The run summaries file, read with the agent's own reader, or undefined when it does not exist. */
export async function readRunSummaryFile(
  file: string,
): Promise<JsonLinesFile<RunnerRunSummaryEvent> | undefined> {
  if (!(await exists(file))) return undefined;
  const { summaries, invalidLines, tornTail } = await readOrExplain(file, readRunSummaries);
  return { file, events: summaries, invalidLines, tornTail };
}

/**
 * The stall evidence file for `runlane stalls`; a missing file is an error.
 *
 * @example
 * const { events } = await requireStallFile('evidence/runner/stall-events.jsonl');
 */
export async function requireStallFile(file: string): Promise<JsonLinesFile<RunnerStallEvent>> {
  const read = await readStallFile(file);
  if (!read) {
    throw new EvidenceFileMissingError(
      `no stall evidence at ${file}: runlane-agent creates it at the first stall in its working directory; pass --evidence <file> to read another`,
    );
  }
  return read;
}

export interface EvidenceFileSourceOptions {
  /** The agent's stall events (JSON Lines). */
  readonly stallsFile: string;
  /** The agent's run summaries (JSON Lines). */
  readonly runsFile: string;
  /**
   * Which files must exist. The agent creates each file at its first event, so a quiet
   * host may have no stall file yet; a file named on the command line must exist.
   * Whatever is required, at least one of the two must exist.
   * @default both false
   */
  readonly require?: { readonly stalls?: boolean; readonly runs?: boolean };
}

/**
 * The report's events from the agent's evidence files on this host.
 *
 * @example
 * const source = new EvidenceFileSource({ stallsFile, runsFile: join(dirname(stallsFile), 'run-summaries.jsonl') });
 * const { stalls, runs, skipped } = await source.load(reportWindow(new Date()));
 */
export class EvidenceFileSource implements RunnerEventSource {
  public constructor(private readonly options: EvidenceFileSourceOptions) {}

  public async load(window: ReportWindow): Promise<RunnerEvents> {
    const { stallsFile, runsFile, require = {} } = this.options;
    const [stalls, runs] = await Promise.all([readStallFile(stallsFile), readRunSummaryFile(runsFile)]);
    if (!stalls && require.stalls)
      throw new EvidenceFileMissingError(`no stall evidence at ${stallsFile} (given with --evidence)`);
    if (!runs && require.runs)
      throw new EvidenceFileMissingError(`no run summaries at ${runsFile} (given with --runs)`);
    if (!stalls && !runs) {
      throw new EvidenceFileMissingError(
        `no runner evidence: neither ${stallsFile} nor ${runsFile} exists. runlane-agent writes them in its working directory; pass --evidence <file> (and --runs <file>)`,
      );
    }
    const notes: string[] = [];
    if (!stalls) notes.push(`${stallsFile} does not exist: no stall recorded yet`);
    if (!runs)
      notes.push(
        `${runsFile} does not exist: no run summaries, so P95 duration and failure rate have no data`,
      );
    for (const read of [stalls, runs]) {
      const note = read && skippedNote(read);
      if (note) notes.push(note);
    }
    return {
      stalls: (stalls?.events ?? []).filter((e) => inReportWindow(e.ts, window)),
      runs: (runs?.events ?? []).filter((e) => inReportWindow(e.ts, window)),
      skipped: (stalls ? skippedLines(stalls) : 0) + (runs ? skippedLines(runs) : 0),
      notes,
    };
  }
}

/** Whether the file exists; the agent's readers treat a missing file as empty, the CLI must not. */
async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw cannotRead(file, error);
  }
}

async function readOrExplain<T>(file: string, read: (file: string) => Promise<T>): Promise<T> {
  try {
    return await read(file);
  } catch (error) {
    throw cannotRead(file, error);
  }
}

function cannotRead(file: string, error: unknown): Error {
  const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new Error(`cannot read ${file}: ${reason}`, { cause: error });
}
