import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../soak/report.js';
import { runSoak } from '../../soak/soak.js';

/**
 * A short chaos soak (`npm run soak` at a small size): ~1,000 mixed commands through the local
 * stack started as a user starts it, one SIGKILL of its whole process group with a restart on the
 * same data folder, drill commands that hang past the function timeout on their final receive;
 * then every accepted command must have exactly one terminal state and its effect at most once.
 */
describe('chaos soak', () => {
  it('keeps every accepted command: 1,000 commands, one SIGKILL of the whole stack, nothing lost, stuck or done twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runlane-soak-test-'));
    const report = await runSoak(
      { commands: 1000, kills: 1, seed: 16, dir, progressSeconds: 30 },
      () => undefined,
    );
    const summary = formatSummary(report);
    const v = report.verdict;

    expect(report.kills, summary).toBeGreaterThanOrEqual(1);
    expect({ lost: v.lost, stuck: v.stuck, duplicateEffects: v.duplicateEffects }, summary).toEqual({
      lost: 0,
      stuck: 0,
      duplicateEffects: 0,
    });
    expect({ conflicting: v.conflicting, missingEffects: v.missingEffects }, summary).toEqual({
      conflicting: 0,
      missingEffects: 0,
    });
    expect(report.failures, summary).toEqual([]);
    // The mix reached every kind of ending, so the zeros above are not vacuous.
    expect(v.accepted, summary).toBeGreaterThanOrEqual(900);
    expect(v.completed, summary).toBeGreaterThan(0);
    expect(v.needsReview, summary).toBeGreaterThan(0);
    expect(Object.keys(v.deadLettered), summary).toEqual(
      expect.arrayContaining([
        'invalid_json',
        'invalid_envelope',
        'unsupported_command_type',
        'handler_failed',
      ]),
    );
    expect(v.acceptedByKind['drill.hang_final'], summary).toBeGreaterThanOrEqual(1);
    rmSync(dir, { recursive: true, force: true });
  }, 600_000);
});
