import { StringDecoder } from 'node:string_decoder';

/** Longest line kept; longer lines are cut (evidence is for people, not replay). */
const MAX_LINE_CHARS = 1000;

/**
 * The last `maxLines` lines of a command's output, stdout and stderr interleaved
 * as they arrived. Each stream keeps its own decoder and unfinished line, so a
 * chunk boundary never splits a character or a line.
 */
export class OutputTail {
  private readonly ring: string[] = [];
  private readonly streams = new Map<string, { decoder: StringDecoder; partial: string }>();

  public constructor(private readonly maxLines: number) {}

  public push(stream: string, chunk: Buffer): void {
    let state = this.streams.get(stream);
    if (state === undefined) {
      state = { decoder: new StringDecoder('utf8'), partial: '' };
      this.streams.set(stream, state);
    }
    const parts = (state.partial + state.decoder.write(chunk)).split('\n');
    state.partial = (parts.pop() ?? '').slice(-MAX_LINE_CHARS);
    for (const line of parts) this.add(line);
  }

  /** Complete lines, then each stream's unfinished line (a prompt or progress bar often is the clue). */
  public lines(): string[] {
    const partials = [...this.streams.values()].map((s) => s.partial).filter((p) => p.trim() !== '');
    return [...this.ring, ...partials].slice(-this.maxLines);
  }

  private add(line: string): void {
    const clean = line.replace(/\r$/, '');
    if (clean.trim() === '') return;
    this.ring.push(clean.length > MAX_LINE_CHARS ? clean.slice(0, MAX_LINE_CHARS) : clean);
    if (this.ring.length > this.maxLines) this.ring.shift();
  }
}
