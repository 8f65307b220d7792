import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { DynamoDbReplayRecords } from '#adapters/dynamodb/replay-records.js';
import { EventBridgeEventPublisher } from '#adapters/eventbridge/event-publisher.js';
import { SqsCommandQueue } from '#adapters/sqs/command-queue.js';
import { SqsDeadLetterQueue } from '#adapters/sqs/dead-letter-queue.js';
import { type Clock, systemClock } from '#core/base/clock.js';
import { replaySteps } from '#core/replay/steps.js';
import type { AwsClients } from './clients.js';

export interface ReplaySettings {
  readonly tableName: string;
  readonly busName: string;
  readonly retentionDays: number;
  /** Lane name → its queue and DLQ. */
  readonly lanes: Readonly<Record<string, { readonly queueUrl: string; readonly dlqUrl: string }>>;
}

/** The replay drill's steps wired to AWS (or the emulators): shared by the Lambda tasks and the CLI. */
export function buildReplaySteps(
  settings: ReplaySettings,
  clients: Pick<AwsClients, 'documents' | 'sqs' | 'eventBridge'>,
  clock: Clock = systemClock,
) {
  const table = { client: clients.documents, tableName: settings.tableName };
  return replaySteps({
    deadLetterQueue: (lane) => {
      const queues = settings.lanes[lane];
      if (!queues) throw new Error(`unknown lane ${lane}; lanes: ${Object.keys(settings.lanes).join(', ')}`);
      return new SqsDeadLetterQueue({ client: clients.sqs, queueUrl: queues.dlqUrl });
    },
    queue: new SqsCommandQueue({
      client: clients.sqs,
      queueUrls: Object.fromEntries(Object.entries(settings.lanes).map(([lane, q]) => [lane, q.queueUrl])),
    }),
    store: new DynamoDbLifecycleStore(table),
    records: new DynamoDbReplayRecords({ ...table, retentionDays: settings.retentionDays }),
    events: new EventBridgeEventPublisher({ client: clients.eventBridge, busName: settings.busName }),
    clock,
  });
}
