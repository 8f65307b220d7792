import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { type Trace, type TraceSource, traceFrom } from '#core/trace/trace.js';
import { createDocumentClient } from '#wiring/clients.js';
import { EXIT_NOT_FOUND } from '../exit-codes.js';
import { resolveTarget } from '../targets.js';

/** The options of `runlane trace` (cli/definitions/trace.ts). */
export interface TraceOptions {
  readonly apiUrl: string;
  readonly env?: string | undefined;
  readonly tableName?: string | undefined;
  readonly region?: string | undefined;
  readonly json?: boolean | undefined;
}

/** `runlane trace <id>`: the trace of a commandId, SQS message id or correlation id. */
export async function runTrace(id: string, options: TraceOptions): Promise<number> {
  const source = await openSource(options);
  const found = await traceFrom(source, id);
  if (!found) {
    console.error(
      `runlane trace: no run found for ${id} (not a commandId, correlation id or recent message id)`,
    );
    return EXIT_NOT_FOUND;
  }
  if (options.json)
    console.log(JSON.stringify({ id, resolvedFrom: found.resolvedFrom, ...found.trace }, null, 2));
  else printTrace(id, found.resolvedFrom, found.trace);
  return 0;
}

async function openSource(options: TraceOptions): Promise<TraceSource> {
  let store: DynamoDbLifecycleStore;
  if (options.tableName) {
    const { region } = options;
    if (!region) throw new Error('give --region (or set AWS_REGION) with --table-name');
    store = new DynamoDbLifecycleStore({
      client: createDocumentClient(new DynamoDBClient({ region })),
      tableName: options.tableName,
    });
  } else {
    const target = await resolveTarget({ apiUrl: options.apiUrl, env: options.env });
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
