import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { type Trace, type TraceSource, traceFrom } from '#core/trace/trace.js';
import { createDocumentClient } from '#wiring/clients.js';
import { TRACE_SPEC } from '../cli-spec.js';
import { resolveTarget } from '../targets.js';

export const TRACE_HELP = `runlane trace <commandId|messageId|correlationId> — one command's story: acceptance, each
attempt with its stages' outcome codes, signals, dead letters and replay links (old → new
commandId), read from the lifecycle table (by id and the correlation index, no scan), plus a
CloudWatch Logs Insights query for the correlation id. A bare SQS message id is found by
scanning the table, only when it is neither a commandId nor a correlation id.

Where to read (default: the local stack):
  --api-url <url>      a running local stack (default http://127.0.0.1:3000)
  --env <name>         a deployed environment (dev, staging, prod): table from the stack's outputs
  --table-name <name>  a lifecycle table directly, with --region
  --region <region>    with --table-name (default AWS_REGION); --env uses the environment's region

Options:
  --json               the trace as JSON
  --help
Exit codes: 0 traced, 1 failure, 2 bad usage, 4 nothing found.`;

export const TRACE_NOT_FOUND = 4;

export async function runTrace(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: TRACE_SPEC.options,
    strict: true,
  });
  if (values.help) {
    console.log(TRACE_HELP);
    return 0;
  }
  const [id, ...extra] = positionals;
  if (!id || extra.length > 0) {
    console.error(`runlane trace: give exactly one commandId, messageId or correlationId\n\n${TRACE_HELP}`);
    return 2;
  }
  const source = await openSource(values);
  const found = await traceFrom(source, id);
  if (!found) {
    console.error(
      `runlane trace: no run found for ${id} (not a commandId, correlation id or recent message id)`,
    );
    return TRACE_NOT_FOUND;
  }
  if (values.json)
    console.log(JSON.stringify({ id, resolvedFrom: found.resolvedFrom, ...found.trace }, null, 2));
  else printTrace(id, found.resolvedFrom, found.trace);
  return 0;
}

async function openSource(values: {
  'api-url': string;
  env?: string | undefined;
  'table-name'?: string | undefined;
  region?: string | undefined;
}): Promise<TraceSource> {
  let store: DynamoDbLifecycleStore;
  if (values['table-name']) {
    const region = values.region ?? process.env.AWS_REGION;
    if (!region) throw new Error('give --region (or set AWS_REGION) with --table-name');
    store = new DynamoDbLifecycleStore({
      client: createDocumentClient(new DynamoDBClient({ region })),
      tableName: values['table-name'],
    });
  } else {
    const target = await resolveTarget({ apiUrl: values['api-url'], env: values.env });
    store = new DynamoDbLifecycleStore({
      client: target.clients.documents,
      tableName: target.settings.tableName,
    });
  }
  return {
    getRun: (runId) => store.getRun(runId),
    findRunsByCorrelationId: async (correlationId) => store.findRunsByCorrelationId(correlationId),
    findRunIdByMessageId: (messageId) => store.findRunIdByMessageId(messageId),
  };
}

function printTrace(id: string, resolvedFrom: string, trace: Trace): void {
  console.log(
    `Trace of ${id} (a ${resolvedFrom}) — correlation id ${trace.correlationId}, ${trace.runs.length} run(s)`,
  );
  for (const { run } of trace.runs) {
    console.log(
      `  run ${run.runId}  ${run.commandType} on ${run.lane}: ${run.status}, key ${run.keyStatus}, ${run.attempts} attempt(s)${run.replayOf ? `, replay of ${run.replayOf}` : ''}`,
    );
  }
  console.log('\nTIME                      RUN       EVENT');
  for (const entry of trace.timeline)
    console.log(`${entry.at.padEnd(24)}  ${entry.runId.slice(0, 8)}  ${entry.text}`);
  console.log('\nCloudWatch Logs Insights (select the environment’s function log groups):');
  for (const line of trace.logsInsightsQuery.split('\n')) console.log(`  ${line}`);
}
