import type {
  DrillEvidence,
  ReplayDrillInput,
  ReplayMessageOutput,
  VerifyProbeOutput,
  VerifyRunsOutput,
} from '#contracts/replay-drill.js';
import type { ReplaySteps } from './steps.js';

export interface DrillProgress {
  readonly found: number;
  readonly replayed: number;
  readonly skipped: number;
  readonly failed: number;
  readonly verified: number;
}

/**
 * Runs the drill's steps in the state machine's order, in-process: what
 * `runlane replay` does without Step Functions. `sleep` is injectable for tests.
 */
export async function runDrillDirectly(
  steps: ReplaySteps,
  input: ReplayDrillInput,
  options: {
    readonly now: () => number;
    readonly sleep: (ms: number) => Promise<void>;
    readonly onProgress?: (progress: DrillProgress) => void;
    readonly concurrency?: number;
  },
): Promise<{
  evidence: DrillEvidence;
  replays: ReplayMessageOutput[];
  verification: VerifyRunsOutput | null;
  probe: VerifyProbeOutput | null;
}> {
  const read = await steps.readDeadLetters(input);
  const replays: ReplayMessageOutput[] = [];
  const progress = () => {
    const count = (s: ReplayMessageOutput['status']) => replays.filter((r) => r.status === s).length;
    return {
      found: read.items.length,
      replayed: count('replayed') + count('would_replay'),
      skipped: count('skipped'),
      failed: count('failed'),
    };
  };
  const concurrency = options.concurrency ?? 5;
  for (let i = 0; i < read.items.length; i += concurrency) {
    const chunk = read.items.slice(i, i + concurrency);
    replays.push(
      ...(await Promise.all(
        chunk.map((item) => steps.replayMessage({ drillId: input.drillId, dryRun: input.dryRun, item })),
      )),
    );
    options.onProgress?.({ ...progress(), verified: 0 });
  }
  const newCommandIds = replays.flatMap((r) =>
    r.status === 'replayed' && r.newCommandId ? [r.newCommandId] : [],
  );
  const deadline = options.now() + input.verifyTimeoutSeconds * 1000;
  let verification: VerifyRunsOutput | null = null;
  let probe: VerifyProbeOutput | null = null;
  if (newCommandIds.length > 0) {
    let waitSeconds = 1;
    do {
      await options.sleep(waitSeconds * 1000);
      verification = await steps.verifyRuns({ newCommandIds, deadline, waitSeconds });
      waitSeconds = verification.nextWaitSeconds;
      options.onProgress?.({
        ...progress(),
        verified: verification.runs.filter((r) => r.verdict !== 'pending').length,
      });
    } while (!verification.done);
    const probeStart = await steps.duplicateProbe({
      lane: input.lane,
      dryRun: input.dryRun,
      runs: verification.runs,
      deadline: options.now() + input.verifyTimeoutSeconds * 1000,
    });
    probe = await steps.verifyProbe(probeStart);
    while (!probe.done) {
      await options.sleep(probe.waitSeconds * 1000);
      probe = await steps.verifyProbe(probe);
    }
  }
  const evidence = await steps.recordEvidence({
    drillId: input.drillId,
    lane: input.lane,
    dryRun: input.dryRun,
    replays,
    verification,
    probe,
  });
  return { evidence, replays, verification, probe };
}
