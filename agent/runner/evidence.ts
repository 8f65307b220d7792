import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type RunnerRunSummaryEvent,
  type RunnerStallEvent,
  runnerRunSummaryEventSchema,
  runnerStallEventSchema,
} from '../../functions/core/agent-events.js';
import { EvidenceWriteError } from '../errors.js';

/**
 * Appends one JSON line to a JSON Lines file: one `write` of the whole line (O_APPEND)
 * followed by `fsync`, so a crash can at worst leave the last line unfinished. A torn
 * tail is closed off with a newline before the next append, so it never swallows the
 * next event; readers skip it.
 */
async function appendJsonLine(file: string, value: unknown): Promise<void> {
  const line = `${JSON.stringify(value)}\n`;
  try {
    await mkdir(dirname(file), { recursive: true });
    const handle = await open(file, 'a+');
    try {
      const { size } = await handle.stat();
      let prefix = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = '\n'; // an earlier append was cut short
      }
      await handle.write(prefix + line);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new EvidenceWriteError(file, { cause: error });
  }
}

/**
 * Appends stall events to a JSON Lines file, one event per line, crash-safe (see `appendJsonLine`).
 *
 * @example
 * await new EvidenceWriter('evidence/runner/stall-events.jsonl').append(event);
 */
export class EvidenceWriter {
  public constructor(public readonly file: string) {}

  public async append(event: RunnerStallEvent): Promise<void> {
    await appendJsonLine(this.file, runnerStallEventSchema.parse(event));
  }
}

/**
 * Appends run summaries (one per run, stalled or not) to `run-summaries.jsonl`, crash-safe.
 *
 * @example
 * await new RunSummaryWriter('evidence/runner/run-summaries.jsonl').append(summary);
 */
export class RunSummaryWriter {
  public constructor(public readonly file: string) {}

  public async append(summary: RunnerRunSummaryEvent): Promise<void> {
    await appendJsonLine(this.file, runnerRunSummaryEventSchema.parse(summary));
  }
}

export interface EvidenceReadResult {
  readonly events: readonly RunnerStallEvent[];
  /** Complete lines that are not valid events (e.g. a torn line closed off by a later append). */
  readonly invalidLines: number;
  /** Whether the file ended in an unfinished line (a write in progress or cut by a crash); it is not read. */
  readonly tornTail: boolean;
}

/** Records of a JSON Lines text: only newline-terminated lines that validate count. */
function parseJsonLines<T>(
  text: string,
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } },
): { readonly records: T[]; readonly invalidLines: number; readonly tornTail: boolean } {
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const records: T[] = [];
  let invalidLines = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      const parsed = schema.safeParse(JSON.parse(line));
      if (parsed.success) records.push(parsed.data);
      else invalidLines++;
    } catch {
      invalidLines++;
    }
  }
  return { records, invalidLines, tornTail: tail !== '' };
}

/** The file's text, or '' when it does not exist. */
async function readIfExists(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/** Parses evidence file text: only newline-terminated lines that validate become events. */
export function parseEvidence(text: string): EvidenceReadResult {
  const { records, invalidLines, tornTail } = parseJsonLines(text, runnerStallEventSchema);
  return { events: records, invalidLines, tornTail };
}

/**
 * Reads every complete, valid stall event of an evidence file (none when it does not exist).
 *
 * @example
 * const { events } = await readEvidence('evidence/runner/stall-events.jsonl');
 */
export async function readEvidence(file: string): Promise<EvidenceReadResult> {
  return parseEvidence(await readIfExists(file));
}

export interface RunSummaryReadResult {
  readonly summaries: readonly RunnerRunSummaryEvent[];
  readonly invalidLines: number;
  readonly tornTail: boolean;
}

/** Reads every complete, valid run summary of a JSON Lines file (none when it does not exist). */
export async function readRunSummaries(file: string): Promise<RunSummaryReadResult> {
  const { records, invalidLines, tornTail } = parseJsonLines(
    await readIfExists(file),
    runnerRunSummaryEventSchema,
  );
  return { summaries: records, invalidLines, tornTail };
}
