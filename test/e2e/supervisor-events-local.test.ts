import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBridgeSender } from '../../agent/reporter/event-bridge-sender.js';
import { createDocumentClient } from '../../functions/adapters/clients.js';
import { DynamoDbSupervisorEventStore } from '../../functions/adapters/dynamodb-supervisor-event-store.js';
import { SUPERVISOR_DETAIL_TYPES } from '../../functions/core/agent-events.js';
import { localDynamoDbClient, localEventBridgeClient } from '../../local/clients.js';
import type { LocalStack } from '../../local/stack.js';
import { aChildEvent, aHealthEvent } from '../support/supervisor-event-fixtures.js';
import { startTestLocalStack } from '../support/test-local-stack.js';

/**
 * The local stack routes supervisor events through the same `runner-events`
 * rule of `EVENT_RULES` to the same ingest code: the latest health per host
 * and the child history end up in DynamoDB Local, for any environment.
 */
describe('supervisor events through the local stack', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestLocalStack();
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('keeps the newest health per host (a replayed older report does not win) and the child events', async () => {
    const { info } = stack;
    const sender = new EventBridgeSender({
      client: localEventBridgeClient(info.eventsEndpoint),
      busName: info.busName,
    });
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

    const store = new DynamoDbSupervisorEventStore({
      client: createDocumentClient(localDynamoDbClient(info.dynamoEndpoint)),
      tableName: info.tableName,
    });
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
