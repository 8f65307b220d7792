import { readFile } from 'node:fs/promises';
import {
  type RunnerRunSummaryEvent,
  type RunnerStallEvent,
  runnerRunSummaryEventSchema,
  runnerStallEventSchema,
} from '#contracts/agent-events.js';

/**
 * Reads the runner's evidence files (stall events and run summaries, JSON Lines, written by
 * `runlane-agent run`): the agent's own tests and `runlane report daily` / `runlane stalls` read them.
 */

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
