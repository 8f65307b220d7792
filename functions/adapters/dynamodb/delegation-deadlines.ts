import type { OpenRunsIndex } from '#core/lifecycle/open-runs-ports.js';
import type { DelegationDeadlines, ExpireDelegationOutcome, WorkerTaskRecord } from '#core/workers/ports.js';
import type { DynamoDbWorkerTaskStore } from './worker-task-store.js';

export interface DynamoDbDelegationDeadlinesOptions {
  /** The sparse `openRuns` index: delegated runs by `delegation.deadlineAt`. */
  readonly openRuns: Pick<OpenRunsIndex, 'listDelegatedDue'>;
  readonly tasks: Pick<DynamoDbWorkerTaskStore, 'getMany' | 'expireOverdue'>;
}

/**
 * `DelegationDeadlines` on the lifecycle table: the overdue delegated runs come from the sparse
 * `openRuns` index (`listDelegatedDue`, runs Running with a `delegation` whose `deadlineAt` has
 * passed — the read follows the overdue runs, never the table or the tasks in flight), their
 * tasks from the task records; each is expired by `DynamoDbWorkerTaskStore.expireOverdue`, which
 * reads the run again (the index is eventually consistent) and writes only if it still waits.
 *
 * @example
 * const deadlines = new DynamoDbDelegationDeadlines({ openRuns: new DynamoDbOpenRuns(table), tasks });
 * for (const task of await deadlines.listOverdue(new Date(), 100)) await deadlines.expireOverdue(task, new Date());
 */
export class DynamoDbDelegationDeadlines implements DelegationDeadlines {
  readonly #openRuns: DynamoDbDelegationDeadlinesOptions['openRuns'];
  readonly #tasks: DynamoDbDelegationDeadlinesOptions['tasks'];

  public constructor(options: DynamoDbDelegationDeadlinesOptions) {
    this.#openRuns = options.openRuns;
    this.#tasks = options.tasks;
  }

  /**
   * The tasks of the delegated runs due at `now`, at most `limit`, sorted by deadline. The index
   * is sharded and read shard by shard: with more than `limit` due, the next sweep gets the rest.
   */
  public async listOverdue(now: Date, limit: number): Promise<WorkerTaskRecord[]> {
    const deadlines = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const page = await this.#openRuns.listDelegatedDue({
        dueBy: now.getTime(),
        limit: limit - deadlines.size,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const run of page.runs) {
        if (run.delegation !== undefined) deadlines.set(run.delegation.taskId, run.delegation.deadlineAt);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined && deadlines.size < limit);
    const tasks = await this.#tasks.getMany([...deadlines.keys()]);
    const deadlineOf = (task: WorkerTaskRecord) => deadlines.get(task.taskId) ?? '';
    return tasks.sort((a, b) => deadlineOf(a).localeCompare(deadlineOf(b)));
  }

  public expireOverdue(task: WorkerTaskRecord, now: Date): Promise<ExpireDelegationOutcome> {
    return this.#tasks.expireOverdue(task, now);
  }
}
