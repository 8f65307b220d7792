import { describe, expect, it } from 'vitest';
import { progressLine } from '#cli/progress.js';

/** A stream that records what was written, a terminal or not. */
function stream(isTTY: boolean) {
  const written: string[] = [];
  return { isTTY, written, write: (text: string) => written.push(text) };
}

describe('progressLine', () => {
  it('redraws one line with \\r on a terminal, and ends it', () => {
    const tty = stream(true);
    const progress = progressLine(tty, { env: {} });
    progress.update('found 1');
    progress.update('found 2');
    progress.done();
    expect(tty.written).toEqual(['\rfound 1   ', '\rfound 2   ', '\n']);
  });

  it('prints whole lines, no \\r, into a pipe or with NO_COLOR or TERM=dumb: at most one a second, and the last', () => {
    for (const [isTTY, env] of [
      [false, {}],
      [true, { NO_COLOR: '1' }],
      [true, { TERM: 'dumb' }],
    ] as const) {
      const out = stream(isTTY);
      let now = 0;
      const progress = progressLine(out, { env, now: () => now });
      progress.update('found 1');
      now = 500;
      progress.update('found 2');
      now = 1_200;
      progress.update('found 2');
      progress.update('found 3');
      progress.done();
      expect(out.written).toEqual(['found 1\n', 'found 2\n', 'found 3\n']);
      expect(out.written.join('')).not.toContain('\r');
    }
  });

  it('writes nothing when nothing happened', () => {
    for (const isTTY of [true, false]) {
      const out = stream(isTTY);
      progressLine(out, { env: {} }).done();
      expect(out.written).toEqual([]);
    }
  });
});
