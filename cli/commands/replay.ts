import { randomUUID } from 'node:crypto';
import { DynamoDbReplayRecords } from '#adapters/dynamodb/replay-records.js';
import type { DrillEvidence, ReplayDrillInput, ReplayMessageOutput } from '#contracts/replay-drill.js';
import { runDrillDirectly } from '#core/replay/run-drill.js';
import { buildReplaySteps } from '#wiring/replay.js';
import { UsageError } from '../errors.js';
import { progressLine } from '../progress.js';
import { resolveTarget, type Target } from '../targets.js';

/** The options of `runlane replay` (cli/definitions/replay.ts). */
export interface ReplayOptions {
  readonly apiUrl: string;
  readonly env?: string | undefined;
  readonly lane: string;
  readonly max: number;
  readonly dryRun?: boolean | undefined;
  readonly confirm?: boolean | undefined;
  readonly verifyTimeout: number;
  readonly viaStepFunctions?: boolean | undefined;
  readonly bulkLimit: number;
  readonly drillId?: string | undefined;
  readonly json?: boolean | undefined;
}

interface DrillResult {
  readonly evidence: DrillEvidence;
  readonly replays: readonly ReplayMessageOutput[];
}

/**
 * `runlane replay`: replays a lane's dead letters after a fix, each with a new commandId, then
 * verifies them and probes a duplicate; exit 0 when every replayed command completed.
 */
export async function runReplay(options: ReplayOptions): Promise<number> {
  if (options.max > options.bulkLimit && !options.confirm && !options.dryRun) {
    throw new UsageError(
      `refusing to replay up to ${options.max} messages without --confirm. Bulk replay only after the root cause is fixed (seed 003); try --dry-run first.`,
    );
  }
  const target = await resolveTarget({ apiUrl: options.apiUrl, env: options.env });
  if (!target.settings.lanes[options.lane]) {
    throw new UsageError(
      `unknown lane ${options.lane}; lanes: ${Object.keys(target.settings.lanes).join(', ')}`,
    );
  }
  const drillId =
    options.drillId ?? `replay-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`;
  const records = new DynamoDbReplayRecords({
    client: target.clients.documents,
    tableName: target.settings.tableName,
    retentionDays: 30,
  });
  if (await records.hasEvidence(drillId)) {
    console.error(
      `runlane replay: ExecutionAlreadyExists: drill ${drillId} already ran; a drill id replays once`,
    );
    return 1;
  }
  const input: ReplayDrillInput = {
    lane: options.lane,
    maxMessages: options.max,
    dryRun: options.dryRun === true,
    verifyTimeoutSeconds: options.verifyTimeout,
    drillId,
  };
  const result = options.viaStepFunctions
    ? await viaStepFunctions(target, input, options.json === true)
    : await directly(target, input, options.json === true);
  if (options.json) console.log(JSON.stringify({ ...result.evidence, replays: result.replays }, null, 2));
  else printDrill(options.lane, target, result);
  return result.evidence.passed ? 0 : 1;
}

/** The drill's steps in this process, its progress on stderr unless the output is JSON. */
async function directly(target: Target, input: ReplayDrillInput, quiet: boolean): Promise<DrillResult> {
  const progress = quiet ? undefined : progressLine(process.stderr);
  const result = await runDrillDirectly(buildReplaySteps(target.settings, target.clients), input, {
    now: Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    onProgress: (p) =>
      progress?.update(
        `found ${p.found}  replayed ${p.replayed}  skipped ${p.skipped}  failed ${p.failed}  verified ${p.verified}`,
      ),
  });
  progress?.done();
  return result;
}

function printDrill(lane: string, target: Target, { evidence, replays }: DrillResult): void {
  console.log(
    `Replay drill ${evidence.drillId} on ${lane} (${target.description})${evidence.dryRun ? ' — dry run' : ''}`,
  );
  for (const r of replays) {
    console.log(
      `  ${r.status.padEnd(12)} ${r.messageId}  ${r.oldCommandId ?? '-'} → ${r.newCommandId ?? '-'}  ${r.detail}`,
    );
  }
  const v = evidence.verified;
  console.log(
    `verified: ${v.completed} completed, ${v.needsReview} NeedsReview, ${v.deadLettered} dead-lettered, ${v.timedOut} timed out; duplicate probe ${evidence.duplicateProbe}`,
  );
  console.log(
    evidence.dryRun
      ? `DRY RUN: ${replays.filter((r) => r.status === 'would_replay').length} message(s) would be replayed; nothing was sent or deleted`
      : evidence.passed
        ? 'PASSED: every replayed command completed and the duplicate probe held'
        : 'NOT PASSED: see above',
  );
}

/**
 * Runs the ReplayDrill state machine: deployed, StartExecution named after the
 * drill id (a repeat fails with ExecutionAlreadyExists) and DescribeExecution
 * until it ends; locally, the synthesized definition under aws-local-stepfunctions.
 */
function viaStepFunctions(target: Target, input: ReplayDrillInput, quiet: boolean): Promise<DrillResult> {
  const say = (text: string) => {
    if (!quiet) process.stderr.write(text);
  };
  return target.stateMachineArn
    ? viaDeployedStateMachine(target.stateMachineArn, target.region, input, say)
    : viaSynthesizedDefinition(target, input, say);
}

async function viaDeployedStateMachine(
  stateMachineArn: string,
  region: string | undefined,
  input: ReplayDrillInput,
  say: (text: string) => void,
): Promise<DrillResult> {
  const { SFNClient, StartExecutionCommand, DescribeExecutionCommand } = await import('@aws-sdk/client-sfn');
  const sfn = new SFNClient({ region });
  const started = await sfn.send(
    new StartExecutionCommand({ stateMachineArn, name: input.drillId, input: JSON.stringify(input) }),
  );
  say(`started ${started.executionArn}\n`);
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    if (execution.status !== 'RUNNING') {
      if (execution.status !== 'SUCCEEDED')
        throw new Error(`execution ${execution.status}: ${execution.error ?? ''} ${execution.cause ?? ''}`);
      say('\n');
      return { evidence: JSON.parse(execution.output ?? '{}') as DrillEvidence, replays: [] };
    }
    say('.');
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function viaSynthesizedDefinition(
  target: Target,
  input: ReplayDrillInput,
  say: (text: string) => void,
): Promise<DrillResult> {
  say('synthesizing the ReplayDrill definition and running it locally…\n');
  const [{ App }, { Template }, { RunlaneStack }, { loadRunlaneConfig }, runner] = await Promise.all([
    import('aws-cdk-lib'),
    import('aws-cdk-lib/assertions'),
    import('#lib/runlane-stack.js'),
    import('#lib/config/cdk-json.js'),
    import('#local/emulators/replay-drill-runner.js'),
  ]);
  const config = loadRunlaneConfig().environments.dev;
  // Only the definition is needed: skip bundling the functions.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RunlaneStack(app, 'Runlane-dev', { environmentName: 'dev', config });
  const definition = runner.replayDrillDefinitionFromTemplate(Template.fromStack(stack).toJSON());
  const steps = buildReplaySteps(target.settings, target.clients);
  const replays: ReplayMessageOutput[] = [];
  const run = await runner.runReplayDrillLocally({
    definition,
    input,
    waitSeconds: 1,
    handler: async (event) => {
      const output = await (steps[event.step] as (i: unknown) => Promise<unknown>)(event.input);
      if (event.step === 'replayMessage') replays.push(output as ReplayMessageOutput);
      say(`${event.step} `);
      return output;
    },
  });
  say('\n');
  return { evidence: run.output as DrillEvidence, replays };
}
