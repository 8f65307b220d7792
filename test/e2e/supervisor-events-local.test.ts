import { describe, expect, it } from 'vitest';
import { DynamoDbSupervisorEventStore } from '#adapters/dynamodb/supervisor-event-store.js';
import { SUPERVISOR_DETAIL_TYPES } from '#contracts/agent-events.js';
import { aChildEvent, aHealthEvent } from '../support/supervisor-event-fixtures.js';
import { agentSenderTo, localStackTable, useTestLocalStack } from '../support/test-local-stack.js';

/**
 * The local stack routes supervisor events through the same `runner-events`
 * rule of `EVENT_RULES` to the same ingest code: the latest health per host
 * and the child history end up in DynamoDB Local, for any environment.
 */
describe('supervisor events through the local stack', () => {
  const localStack = useTestLocalStack();

  it('keeps the newest health per host (a replayed older report does not win) and the child events', async () => {
    const stack = localStack();
    const sender = agentSenderTo(stack);
    const now = Date.now();
    const current = aHealthEvent({
      environment: 'staging',
      host: 'sup-local',
      ts: new Date(now).toISOString(),
    });
    const replayed = aHealthEvent({
      environment: 'staging',
      host: 'sup-local',
      ts: new Date(now - 120_000).toISOString(),
      dashboardLink: 'disconnected',
    });
    const quarantine = aChildEvent({ environment: 'staging', host: 'sup-local', event: 'quarantined' });

    await sender.send([{ detailType: SUPERVISOR_DETAIL_TYPES.health, detail: current }]);
    await sender.send([
      { detailType: SUPERVISOR_DETAIL_TYPES.health, detail: replayed },
      { detailType: SUPERVISOR_DETAIL_TYPES.child, detail: quarantine },
    ]);

    const store = new DynamoDbSupervisorEventStore(localStackTable(stack));
    await expect.poll(() => store.listSupervisorHealth('staging'), { timeout: 10_000 }).toEqual([current]);
    await expect
      .poll(
        () =>
          store.listSupervisorChildEvents({
            environment: 'staging',
            from: new Date(now - 3_600_000),
            to: new Date(now + 3_600_000),
          }),
        { timeout: 10_000 },
      )
      .toEqual([quarantine]);
  });
});
