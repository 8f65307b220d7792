import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { SqsDeadLetterQueue } from '#adapters/sqs/dead-letter-queue.js';
import { runDrillDirectly } from '#core/replay/run-drill.js';
import { traceFrom } from '#core/trace/trace.js';
import { buildReplaySteps } from '#wiring/replay.js';
import { GATE_SPEC } from '../cli-spec.js';
import { resolveTarget, type Target } from '../targets.js';

export const GATE_HELP = `runlane gate — the release-gate evidence of seed 003, produced by running four scenarios:
  1. queue retry with recovery proof
  2. dead letter with fail-closed status and signal proof
  3. replay with idempotent duplicate handling
  4. correlated trace across API enqueue, worker handling and lifecycle persistence
Writes <out>/<timestamp>/ with a JSON file and a Markdown summary per scenario, and index.md.
Scenarios 1-3 use the drill command type drill.flaky, which only the local stack registers.

Options:
  --api-url <url>   a running local stack (default http://127.0.0.1:3000)
  --out <dir>       evidence folder (default evidence)
  --timeout <s>     per scenario (default 180)
  --json            print the results as JSON
  --help
Exit codes: 0 every scenario passed, 1 some did not (or failure), 2 bad usage.`;

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

export async function runGate(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: GATE_SPEC.options,
    strict: true,
  });
  if (values.help) {
    console.log(GATE_HELP);
    return 0;
  }
  const timeoutMs = Number(values.timeout) * 1000;
  if (!(timeoutMs > 0)) {
    console.error(`runlane gate: --timeout must be a positive number of seconds\n\n${GATE_HELP}`);
    return 2;
  }
  const target = await resolveTarget({ apiUrl: values['api-url'] });
  const store = new DynamoDbLifecycleStore({
    client: target.clients.documents,
    tableName: target.settings.tableName,
  });
  const say = (line: string) => {
    if (!values.json) process.stderr.write(`${line}\n`);
  };
  const results: ScenarioEvidence[] = [];
  const scenario = async (
    name: string,
    title: string,
    body: () => Promise<Omit<ScenarioEvidence, 'scenario' | 'title' | 'startedAt' | 'finishedAt'>>,
  ) => {
    say(`▶ ${title}`);
    const startedAt = new Date().toISOString();
    let result: Omit<ScenarioEvidence, 'scenario' | 'title' | 'startedAt' | 'finishedAt'>;
    try {
      result = await body();
    } catch (error) {
      result = { passed: false, ids: {}, observed: [`error: ${(error as Error).message}`], details: null };
    }
    results.push({ scenario: name, title, startedAt, finishedAt: new Date().toISOString(), ...result });
    say(`  ${result.passed ? 'PASS' : 'FAIL'}  ${result.observed.join('; ')}`);
  };

  const waitTerminal = async (commandId: string) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await store.getRun(commandId);
      if (view && view.run.keyStatus !== 'Reserved') return view;
      if (Date.now() > deadline) return view;
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  await scenario('queue-retry-recovery', 'Queue retry scenario with recovery proof', async () => {
    const commandId = await produceDrill(target, 1);
    const view = await waitTerminal(commandId);
    const run = view?.run;
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
  });

  let deadLettered = '';
  await scenario(
    'dead-letter-fail-closed',
    'Dead-letter scenario with fail-closed status and signal proof',
    async () => {
      // Fails on every receive its lane allows, so it dead-letters; its replay (scenario 3) is the next execution and succeeds.
      const info = (await (await fetch(`${values['api-url']}/_local/info`)).json()) as {
        maxReceiveCount: number;
      };
      deadLettered = await produceDrill(target, info.maxReceiveCount);
      const view = await waitTerminal(deadLettered);
      const run = view?.run;
      const dlq = target.settings.lanes[DRILL_LANE];
      const letters = dlq
        ? await new SqsDeadLetterQueue({ client: target.clients.sqs, queueUrl: dlq.dlqUrl }).receive(100, 0)
        : [];
      const letter = letters.find((l) => l.attributes.commandId === deadLettered);
      return {
        passed:
          run?.status === 'NeedsReview' &&
          run.keyStatus === 'Rejected' &&
          run.signals.some((s) => s.type === 'worker_command_failed' && s.RequiresHumanReview) &&
          letter?.attributes.reason === 'handler_failed',
        ids: { commandId: deadLettered, messageId: letter?.messageId ?? '' },
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
    },
  );

  await scenario(
    'replay-idempotent-duplicate',
    'Replay scenario proving idempotent duplicate handling',
    async () => {
      const { evidence } = await runDrillDirectly(
        buildReplaySteps(target.settings, target.clients),
        {
          lane: DRILL_LANE,
          maxMessages: 100,
          dryRun: false,
          verifyTimeoutSeconds: Math.round(timeoutMs / 1000),
          drillId: `gate-${randomUUID()}`,
          commandIds: [deadLettered],
        },
        { now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
      );
      const link = evidence.links[0];
      const replay = link ? (await store.getRun(link.new))?.run : undefined;
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
    },
  );

  await scenario(
    'correlated-trace',
    'Correlated trace across API enqueue, worker handling and lifecycle persistence',
    async () => {
      const response = await fetch(
        `${values['api-url']}/api/v1/agent/conversations/gate-${randomUUID().slice(0, 8)}/messages`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            householdId: 'gate-household',
            text: 'remind me to file the release notes',
          }),
        },
      );
      const accepted = (await response.json()) as { commandId: string; correlationId: string };
      await waitTerminal(accepted.commandId);
      const traced = await traceFrom(
        {
          getRun: (id) => store.getRun(id),
          findRunsByCorrelationId: (c) => store.findRunsByCorrelationId(c),
        },
        accepted.correlationId,
      );
      const kinds = traced?.trace.timeline.map((e) => e.kind) ?? [];
      return {
        passed:
          response.status === 202 &&
          traced?.trace.runs.length === 1 &&
          ['accepted', 'attempt_started', 'attempt_ended', 'finalized'].every((k) =>
            kinds.includes(k as never),
          ),
        ids: { commandId: accepted.commandId, correlationId: accepted.correlationId },
        observed: [`API ${response.status}`, `timeline ${kinds.join(' → ')}`],
        details: traced?.trace ?? null,
      };
    },
  );

  const folder = resolve(values.out, new Date().toISOString().replace(/[:.]/g, '-'));
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
  if (values.json) console.log(JSON.stringify({ folder, passed: allPassed, scenarios: results }, null, 2));
  else
    console.log(
      `${allPassed ? 'All four scenarios passed' : 'Some scenarios failed'}; evidence in ${folder}`,
    );
  return allPassed ? 0 : 1;
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
