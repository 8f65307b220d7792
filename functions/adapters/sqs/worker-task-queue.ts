import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type WorkerTaskMessage, workerTaskQueueName } from '#contracts/worker-contract.js';
import { WorkerSiteNotConfiguredError } from '#core/workers/errors.js';
import type { WorkerTaskQueue } from '#core/workers/ports.js';

export interface SqsWorkerTaskQueueOptions {
  readonly client: SQSClient;
  /** Site → URL of its task lane (`runlane-<env>-worker-tasks-<site>`, `WORKER_TASK_QUEUE_URLS`). */
  readonly queueUrls: Readonly<Record<string, string>>;
}

/**
 * `WorkerTaskQueue` on one SQS queue per site. `send` refuses a site with no lane configured
 * ({@link WorkerSiteNotConfiguredError}); `depth` asks each lane for its approximate counts.
 *
 * @example
 * const queue = new SqsWorkerTaskQueue({ client: sqs, queueUrls: { lab: 'https://sqs…/runlane-prod-worker-tasks-lab' } });
 * await queue.send(message);
 * await queue.depth(); // { lab: { visible: 1, inFlight: 0 } }
 */
export class SqsWorkerTaskQueue implements WorkerTaskQueue {
  readonly #client: SQSClient;
  readonly #queueUrls: Readonly<Record<string, string>>;

  public constructor(options: SqsWorkerTaskQueueOptions) {
    this.#client = options.client;
    this.#queueUrls = options.queueUrls;
  }

  /**
   * Site → queue URL of the sites' lanes, looked up by their names (`workerTaskQueueName`), for
   * when only the environment and its sites are known (the local stack, scripts).
   */
  public static async resolveQueueUrls(
    client: SQSClient,
    environment: string,
    sites: readonly string[],
  ): Promise<Record<string, string>> {
    const entries = await Promise.all(
      sites.map(async (site) => {
        const result = await client.send(
          new GetQueueUrlCommand({ QueueName: workerTaskQueueName(environment, site) }),
        );
        if (!result.QueueUrl) throw new WorkerSiteNotConfiguredError(site);
        return [site, result.QueueUrl] as const;
      }),
    );
    return Object.fromEntries(entries);
  }

  public async send(message: WorkerTaskMessage): Promise<void> {
    const queueUrl = this.#queueUrls[message.site];
    if (!queueUrl) throw new WorkerSiteNotConfiguredError(message.site);
    await this.#client.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }),
    );
  }

  public async depth(): Promise<Record<string, { visible: number; inFlight: number }>> {
    const entries = await Promise.all(
      Object.entries(this.#queueUrls).map(async ([site, queueUrl]) => {
        const result = await this.#client.send(
          new GetQueueAttributesCommand({
            QueueUrl: queueUrl,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        );
        return [
          site,
          {
            visible: Number(result.Attributes?.ApproximateNumberOfMessages ?? 0),
            inFlight: Number(result.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
          },
        ] as const;
      }),
    );
    return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
  }
}
