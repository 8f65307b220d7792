import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { SqsDeadLetterQueue } from '#adapters/sqs/dead-letter-queue.js';
import { runDrillDirectly } from '#core/replay/run-drill.js';
import { traceFrom } from '#core/trace/trace.js';
import { connectLocalApi } from '#local/demo/local-api.js';
import { buildReplaySteps } from '#wiring/replay.js';
import { resolveTarget, type Target } from '../targets.js';

/** The options of `runlane gate` (cli/definitions/gate.ts). */
export interface GateOptions {
  readonly apiUrl: string;
  readonly out: string;
  /** Seconds, per scenario. */
  readonly timeout: number;
  readonly json?: boolean | undefined;
}

const DRILL_LANE = 'runtime-ingestion-completed';

interface ScenarioEvidence {
  readonly scenario: string;
  readonly title: string;
  readonly passed: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly ids: Record<string, string>;
  readonly observed: readonly string[];
  readonly details: unknown;
}

/** What a scenario found. */
type ScenarioOutcome = Omit<ScenarioEvidence, 'scenario' | 'title' | 'startedAt' | 'finishedAt'>;

/** What the scenarios share: the local stack, its lifecycle table, and the run's state. */
interface Gate {
  readonly target: Target;
  readonly apiUrl: string;
  readonly store: DynamoDbLifecycleStore;
  readonly timeoutMs: number;
  /** The commandId scenario 2 dead-lettered, which scenario 3 replays. */
  deadLettered: string;
}

interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly run: (gate: Gate) => Promise<ScenarioOutcome>;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'queue-retry-recovery', title: 'Queue retry scenario with recovery proof', run: queueRetry },
  {
    name: 'dead-letter-fail-closed',
    title: 'Dead-letter scenario with fail-closed status and signal proof',
    run: deadLetter,
  },
  {
    name: 'replay-idempotent-duplicate',
    title: 'Replay scenario proving idempotent duplicate handling',
    run: replayDuplicate,
  },
  {
    name: 'correlated-trace',
    title: 'Correlated trace across API enqueue, worker handling and lifecycle persistence',
    run: correlatedTrace,
  },
];

/**
 * `runlane gate`: runs seed 003's four release-gate scenarios against the local stack and writes
 * their evidence to `<out>/<timestamp>/`; exit 0 when every scenario passed.
 */
export async function runGate(options: GateOptions): Promise<number> {
  const target = await resolveTarget({ apiUrl: options.apiUrl });
  const gate: Gate = {
    target,
    apiUrl: options.apiUrl,
    store: new DynamoDbLifecycleStore({
      client: target.clients.documents,
      tableName: target.settings.tableName,
    }),
    timeoutMs: options.timeout * 1000,
    deadLettered: '',
  };
  const say = (line: string) => {
    if (!options.json) process.stderr.write(`${line}\n`);
  };
  const results: ScenarioEvidence[] = [];
  for (const scenario of SCENARIOS) {
    say(`▶ ${scenario.title}`);
    const result = await runScenario(gate, scenario);
    say(`  ${result.passed ? 'PASS' : 'FAIL'}  ${result.observed.join('; ')}`);
    results.push(result);
  }
  const folder = writeEvidence(options.out, target, results);
  const allPassed = results.every((r) => r.passed);
  if (options.json) console.log(JSON.stringify({ folder, passed: allPassed, scenarios: results }, null, 2));
  else
    console.log(
      `${allPassed ? 'All four scenarios passed' : 'Some scenarios failed'}; evidence in ${folder}`,
    );
  return allPassed ? 0 : 1;
}

async function runScenario(gate: Gate, scenario: Scenario): Promise<ScenarioEvidence> {
  const startedAt = new Date().toISOString();
  let outcome: ScenarioOutcome;
  try {
    outcome = await scenario.run(gate);
  } catch (error) {
    outcome = { passed: false, ids: {}, observed: [`error: ${(error as Error).message}`], details: null };
  }
  return {
    scenario: scenario.name,
    title: scenario.title,
    startedAt,
    finishedAt: new Date().toISOString(),
    ...outcome,
  };
}

/** The run of `commandId` once its key is no longer Reserved, or as it is at the deadline. */
async function waitTerminal(gate: Gate, commandId: string) {
  const deadline = Date.now() + gate.timeoutMs;
  for (;;) {
    const view = await gate.store.getRun(commandId);
    if (view && view.run.keyStatus !== 'Reserved') return view;
    if (Date.now() > deadline) return view;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** 1: a command that fails once completes on its retry, with the failure recorded as a signal. */
async function queueRetry(gate: Gate): Promise<ScenarioOutcome> {
  const commandId = await produceDrill(gate.target, 1);
  const run = (await waitTerminal(gate, commandId))?.run;
  const outcomes = run?.stages.map((s) => s.outcomeCode ?? 'open') ?? [];
  return {
    passed:
      run?.status === 'Completed' &&
      run.keyStatus === 'Completed' &&
      (run.attempts ?? 0) >= 2 &&
      run.signals.some((s) => s.type === 'worker_command_failed'),
    ids: { commandId, correlationId: run?.correlationId ?? '' },
    observed: [
      `run ${run?.status}`,
      `key ${run?.keyStatus}`,
      `attempts ${run?.attempts}`,
      `stages ${outcomes.join(' → ')}`,
      `signals ${run?.signals.map((s) => s.type).join(',') || 'none'}`,
    ],
    details: run ?? null,
  };
}

/** 2: a command failing on every receive dead-letters, fails closed and asks for a human. */
async function deadLetter(gate: Gate): Promise<ScenarioOutcome> {
  // Fails on every receive its lane allows, so it dead-letters; its replay (scenario 3) is the next execution and succeeds.
  const info = (await (await fetch(`${gate.apiUrl}/_local/info`)).json()) as { maxReceiveCount: number };
  const commandId = await produceDrill(gate.target, info.maxReceiveCount);
  gate.deadLettered = commandId;
  const run = (await waitTerminal(gate, commandId))?.run;
  const dlq = gate.target.settings.lanes[DRILL_LANE];
  const letters = dlq
    ? await new SqsDeadLetterQueue({ client: gate.target.clients.sqs, queueUrl: dlq.dlqUrl }).receive(100, 0)
    : [];
  const letter = letters.find((l) => l.attributes.commandId === commandId);
  return {
    passed:
      run?.status === 'NeedsReview' &&
      run.keyStatus === 'Rejected' &&
      run.signals.some((s) => s.type === 'worker_command_failed' && s.RequiresHumanReview) &&
      letter?.attributes.reason === 'handler_failed',
    ids: { commandId, messageId: letter?.messageId ?? '' },
    observed: [
      `run ${run?.status}`,
      `key ${run?.keyStatus}`,
      `signal ${run?.signals.at(-1)?.type} RequiresHumanReview=${run?.signals.at(-1)?.RequiresHumanReview}`,
      `DLQ reason ${letter?.attributes.reason ?? 'missing'}`,
    ],
    details: {
      run: run ?? null,
      deadLetter: letter ? { ...letter.attributes, messageId: letter.messageId } : null,
    },
  };
}

/** 3: scenario 2's dead letter replayed with a new commandId; a duplicate of the replay is a no-op. */
async function replayDuplicate(gate: Gate): Promise<ScenarioOutcome> {
  const { target, deadLettered } = gate;
  const { evidence } = await runDrillDirectly(
    buildReplaySteps(target.settings, target.clients),
    {
      lane: DRILL_LANE,
      maxMessages: 100,
      dryRun: false,
      verifyTimeoutSeconds: Math.round(gate.timeoutMs / 1000),
      drillId: `gate-${randomUUID()}`,
      commandIds: [deadLettered],
    },
    { now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
  );
  const link = evidence.links[0];
  const replay = link ? (await gate.store.getRun(link.new))?.run : undefined;
  return {
    passed: evidence.passed && evidence.duplicateProbe === 'passed' && replay?.replayOf === deadLettered,
    ids: { drillId: evidence.drillId, oldCommandId: deadLettered, newCommandId: link?.new ?? '' },
    observed: [
      `replayed ${evidence.replayed}`,
      `new run ${replay?.status ?? 'missing'} (replayOf ${replay?.replayOf ?? '-'})`,
      `duplicate probe ${evidence.duplicateProbe}`,
      `duplicate deliveries ${replay?.duplicateDeliveries ?? 0}, attempts ${replay?.attempts ?? '-'}`,
    ],
    details: evidence,
  };
}

/** 4: a command sent through the API traced from its correlation id, from acceptance to the end. */
async function correlatedTrace(gate: Gate): Promise<ScenarioOutcome> {
  // As the household's user posts it: a member's token of the local issuer.
  const member = (await connectLocalApi(gate.apiUrl)).household('gate-household');
  const response = await member(
    'POST',
    `/api/v1/agent/conversations/gate-${randomUUID().slice(0, 8)}/messages`,
    {
      text: 'remind me to file the release notes',
    },
  );
  const accepted = response.body as { commandId: string; correlationId: string };
  await waitTerminal(gate, accepted.commandId);
  const traced = await traceFrom(
    {
      getRun: (id) => gate.store.getRun(id),
      findRunsByCorrelationId: (c) => gate.store.findRunsByCorrelationId(c),
    },
    accepted.correlationId,
  );
  const kinds = traced?.trace.timeline.map((e) => e.kind) ?? [];
  return {
    passed:
      response.status === 202 &&
      traced?.trace.runs.length === 1 &&
      ['accepted', 'attempt_started', 'attempt_ended', 'finalized'].every((k) => kinds.includes(k as never)),
    ids: { commandId: accepted.commandId, correlationId: accepted.correlationId },
    observed: [`API ${response.status}`, `timeline ${kinds.join(' → ')}`],
    details: traced?.trace ?? null,
  };
}

/** `<out>/<timestamp>/`: a JSON file and a Markdown summary per scenario, and index.md. */
function writeEvidence(out: string, target: Target, results: readonly ScenarioEvidence[]): string {
  const folder = resolve(out, new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(folder, { recursive: true });
  for (const result of results) {
    writeFileSync(join(folder, `${result.scenario}.json`), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(folder, `${result.scenario}.md`), markdown(result));
  }
  const allPassed = results.every((r) => r.passed);
  writeFileSync(
    join(folder, 'index.md'),
    [
      `# Release-gate evidence — ${allPassed ? 'PASSED' : 'NOT PASSED'}`,
      '',
      `Target: ${target.description}. Generated ${new Date().toISOString()} by \`runlane gate\`.`,
      '',
      '| scenario | result | evidence |',
      '|---|---|---|',
      ...results.map(
        (r) => `| ${r.title} | ${r.passed ? 'pass' : 'FAIL'} | [${r.scenario}.md](${r.scenario}.md) |`,
      ),
      '',
    ].join('\n'),
  );
  return folder;
}

async function produceDrill(target: Target, failTimes: number): Promise<string> {
  const commandId = randomUUID();
  const queueUrl = target.settings.lanes[DRILL_LANE]?.queueUrl;
  if (!queueUrl) throw new Error(`no lane ${DRILL_LANE}`);
  await target.clients.sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify({
        schemaVersion: 1,
        commandId,
        commandType: 'drill.flaky',
        lane: DRILL_LANE,
        correlationId: `gate:${commandId}`,
        householdId: 'gate-household',
        issuedAt: new Date().toISOString(),
        payload: { failTimes },
      }),
    }),
  );
  return commandId;
}

function markdown(result: ScenarioEvidence): string {
  return [
    `# ${result.title}`,
    '',
    `**Result: ${result.passed ? 'PASS' : 'FAIL'}** — ${result.startedAt} → ${result.finishedAt}`,
    '',
    '## Ids',
    '',
    ...Object.entries(result.ids).map(([k, v]) => `- ${k}: \`${v}\``),
    '',
    '## Observed',
    '',
    ...result.observed.map((o) => `- ${o}`),
    '',
    `Full record: [${result.scenario}.json](${result.scenario}.json)`,
    '',
  ].join('\n');
}
