import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DynamoDbReplayRecords } from '#adapters/dynamodb/replay-records.js';
import { SqsDeadLetterQueue } from '#adapters/sqs/dead-letter-queue.js';
import { isSubcommand } from '#common/command-line.js';
import type { DrillEvidence, ReplayDrillInput, ReplayMessageOutput } from '#contracts/replay-drill.js';
import { runDrillDirectly } from '#core/replay/run-drill.js';
import { buildReplaySteps } from '#wiring/replay.js';
import { DLQ_SPEC, REPLAY_SPEC } from '../cli-spec.js';
import { resolveTarget, type Target } from '../targets.js';

const TARGET_HELP = `  --api-url <url>   a running local stack (default http://127.0.0.1:3000)
  --env <name>      a deployed environment (dev, staging, prod), found through its stack outputs`;

export const DLQ_HELP = `runlane dlq list [--lane <lane>] | runlane dlq show <messageId> [--lane <lane>]
Every dead letter with lane, message id, command id, correlation id, reason, rationale,
receive count and age — peeked, not consumed (each message is made visible again at once).

${TARGET_HELP}
  --json            as JSON
  --help
Exit codes: 0 ok, 1 failure, 2 bad usage, 4 (show) no such message.`;

export const REPLAY_HELP = `runlane replay --lane <lane> [--max N] [--dry-run] [--confirm] [--verify-timeout <s>]
Replays a lane's dead letters after a fix: each replayable message is re-sent with a NEW
commandId (replayOf = the old one, same semantics and correlation chain) and deleted from the
DLQ only after the send; invalid_json / invalid_envelope are reported and left. Then it waits
until every replay is terminal, re-sends one replay as a duplicate probe, and records evidence.

${TARGET_HELP}
  --max <n>             at most n messages (default 10)
  --dry-run             report what would be replayed; send and delete nothing
  --confirm             needed to replay more than the bulk limit (seed 003: no bulk replay before the fix)
  --bulk-limit <n>      the bulk limit [RUNLANE_REPLAY_BULK_LIMIT] (default 10)
  --verify-timeout <s>  wait this long for replays to finish (default 120)
  --via-step-functions  run the ReplayDrill state machine instead (deployed: StartExecution named
                        after the drill id, then follow it; local: the synthesized definition
                        under aws-local-stepfunctions)
  --drill-id <id>       name the drill (default: generated); a drill id runs once
  --json                the evidence as JSON
  --help
Exit codes: 0 every replayed command completed, 1 some did not (or failure), 2 bad usage.`;

/** Default for --bulk-limit: more than this needs --confirm. */
const BULK_REPLAY_LIMIT = 10;

export async function runDlq(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: DLQ_SPEC.options,
    strict: true,
  });
  const [action, messageId] = positionals;
  if (values.help) {
    console.log(DLQ_HELP);
    return 0;
  }
  if (!isSubcommand(DLQ_SPEC, action) || (action === 'show' && !messageId)) {
    console.error(`runlane dlq: use \`list\` or \`show <messageId>\`\n\n${DLQ_HELP}`);
    return 2;
  }
  const target = await resolveTarget({ apiUrl: values['api-url'], env: values.env });
  const lanes = values.lane ? [values.lane] : Object.keys(target.settings.lanes);
  const now = Date.now();
  const rows = [];
  for (const lane of lanes) {
    const queues = target.settings.lanes[lane];
    if (!queues) {
      console.error(
        `runlane dlq: unknown lane ${lane}; lanes: ${Object.keys(target.settings.lanes).join(', ')}`,
      );
      return 2;
    }
    const messages = await new SqsDeadLetterQueue({
      client: target.clients.sqs,
      queueUrl: queues.dlqUrl,
    }).receive(100, 0);
    for (const m of messages) {
      rows.push({
        lane,
        messageId: m.messageId,
        commandId: m.attributes.commandId ?? null,
        correlationId: m.attributes.correlationId ?? null,
        reason: m.attributes.reason ?? 'redriven_without_reason',
        rationale: m.attributes.rationale ?? '',
        receiveCount: Number(m.attributes.receiveCount ?? m.receiveCount),
        ageSeconds: m.sentAt > 0 ? Math.round((now - m.sentAt) / 1000) : null,
        body: m.body,
      });
    }
  }
  if (action === 'show') {
    const row = rows.find((r) => r.messageId === messageId);
    if (!row) {
      console.error(`runlane dlq: no dead letter ${messageId} in ${lanes.join(', ')}`);
      return 4;
    }
    console.log(
      values.json
        ? JSON.stringify(row, null, 2)
        : Object.entries(row)
            .map(([k, v]) => `${k.padEnd(14)} ${String(v)}`)
            .join('\n'),
    );
    return 0;
  }
  if (values.json) {
    console.log(
      JSON.stringify(
        rows.map(({ body: _body, ...row }) => row),
        null,
        2,
      ),
    );
    return 0;
  }
  console.log(`${rows.length} dead letter(s) in ${target.description}`);
  for (const r of rows) {
    console.log(
      `${r.lane}  ${r.messageId}  ${r.reason.padEnd(24)}  command ${r.commandId ?? '-'}  correlation ${r.correlationId ?? '-'}  receives ${r.receiveCount}  age ${r.ageSeconds ?? '?'}s\n    ${r.rationale}`,
    );
  }
  return 0;
}

export async function runReplay(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: REPLAY_SPEC.options,
    strict: true,
  });
  if (values.help) {
    console.log(REPLAY_HELP);
    return 0;
  }
  const max = Number(values.max);
  const verifyTimeoutSeconds = Number(values['verify-timeout']);
  if (!values.lane || !Number.isInteger(max) || max < 1 || max > 100 || !(verifyTimeoutSeconds > 0)) {
    console.error(
      `runlane replay: give --lane, --max 1-100 and a positive --verify-timeout\n\n${REPLAY_HELP}`,
    );
    return 2;
  }
  const bulkLimit = Number(
    values['bulk-limit'] ?? process.env.RUNLANE_REPLAY_BULK_LIMIT ?? BULK_REPLAY_LIMIT,
  );
  if (!Number.isInteger(bulkLimit) || bulkLimit < 0) {
    console.error('runlane replay: --bulk-limit (or RUNLANE_REPLAY_BULK_LIMIT) must be a whole number ≥ 0');
    return 2;
  }
  if (max > bulkLimit && !values.confirm && !values['dry-run']) {
    console.error(
      `runlane replay: refusing to replay up to ${max} messages without --confirm. Bulk replay only after the root cause is fixed (seed 003); try --dry-run first.`,
    );
    return 2;
  }
  const target = await resolveTarget({ apiUrl: values['api-url'], env: values.env });
  if (!target.settings.lanes[values.lane]) {
    console.error(
      `runlane replay: unknown lane ${values.lane}; lanes: ${Object.keys(target.settings.lanes).join(', ')}`,
    );
    return 2;
  }
  const drillId =
    values['drill-id'] ??
    `replay-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`;
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(drillId)) {
    console.error('runlane replay: --drill-id must be 1-80 of A-Z a-z 0-9 _ - (it names the execution)');
    return 2;
  }
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
  const progress = (p: {
    found: number;
    replayed: number;
    skipped: number;
    failed: number;
    verified: number;
  }) => {
    if (!values.json) {
      process.stderr.write(
        `\rfound ${p.found}  replayed ${p.replayed}  skipped ${p.skipped}  failed ${p.failed}  verified ${p.verified}   `,
      );
    }
  };
  const input = {
    lane: values.lane,
    maxMessages: max,
    dryRun: values['dry-run'],
    verifyTimeoutSeconds,
    drillId,
  };
  const result = values['via-step-functions']
    ? await viaStepFunctions(target, input, values.json)
    : await runDrillDirectly(buildReplaySteps(target.settings, target.clients), input, {
        now: Date.now,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        onProgress: progress,
      });
  if (!values.json) process.stderr.write('\n');
  const { evidence } = result;
  if (values.json) {
    console.log(JSON.stringify({ ...evidence, replays: result.replays }, null, 2));
  } else {
    console.log(
      `Replay drill ${evidence.drillId} on ${values.lane} (${target.description})${evidence.dryRun ? ' — dry run' : ''}`,
    );
    for (const r of result.replays) {
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
        ? `DRY RUN: ${result.replays.filter((r) => r.status === 'would_replay').length} message(s) would be replayed; nothing was sent or deleted`
        : evidence.passed
          ? 'PASSED: every replayed command completed and the duplicate probe held'
          : 'NOT PASSED: see above',
    );
  }
  return evidence.passed ? 0 : 1;
}

/**
 * Runs the ReplayDrill state machine: deployed, StartExecution named after the
 * drill id (a repeat fails with ExecutionAlreadyExists) and DescribeExecution
 * until it ends; locally, the synthesized definition under aws-local-stepfunctions.
 */
async function viaStepFunctions(
  target: Target,
  input: ReplayDrillInput,
  quiet: boolean,
): Promise<{ evidence: DrillEvidence; replays: ReplayMessageOutput[] }> {
  const say = (line: string) => {
    if (!quiet) process.stderr.write(line);
  };
  if (target.stateMachineArn) {
    const { SFNClient, StartExecutionCommand, DescribeExecutionCommand } = await import(
      '@aws-sdk/client-sfn'
    );
    const sfn = new SFNClient({ region: target.region });
    const started = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: target.stateMachineArn,
        name: input.drillId,
        input: JSON.stringify(input),
      }),
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
