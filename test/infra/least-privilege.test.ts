/**
 * Least privilege on the lifecycle table, read from a synthesized environment: every function's
 * role holds exactly the DynamoDB actions its code sends (the table below, written out here so a
 * change to the declared map in lib/storage/table-access.ts is a visible change to this test too),
 * each on the table only within its partitions (`dynamodb:LeadingKeys`), Query on the indexes it
 * reads only; no role may Scan, and DeleteItem only where a status or registry entry moves.
 */
import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LANES } from '#contracts/lanes.js';
import type { RunlaneFunction } from '#lib/runlane-function.js';
import { RunlaneStack } from '#lib/runlane-stack.js';
import { actionsOf, TABLE_ACCESS, type TableAccess } from '#lib/storage/table-access.js';
import { environmentConfig, TEST_REGION, testApp } from './support.js';

interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, string[]>>;
}

const ENV = 'prod';

/** The DynamoDB actions of each function, from reading its adapters and wiring. */
const EXPECTED_ACTIONS: Record<string, readonly string[]> = {
  api: ['BatchGetItem', 'DeleteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem'],
  'lane runtime-ingestion-completed': ['PutItem', 'Query', 'UpdateItem'],
  'lane runtime-agent-message-posted': ['GetItem', 'PutItem', 'Query', 'UpdateItem'],
  'lane runtime-nightly-anomaly-sweep': ['PutItem', 'Query', 'UpdateItem'],
  replayDispatcher: ['GetItem', 'PutItem', 'Query', 'UpdateItem'],
  runnerEventIngest: ['PutItem'],
  supervisorSilentHosts: ['Query'],
  workerIngest: ['DeleteItem', 'GetItem', 'PutItem', 'UpdateItem'],
  workerSweep: [
    'BatchGetItem',
    'ConditionCheckItem',
    'DeleteItem',
    'GetItem',
    'PutItem',
    'Query',
    'UpdateItem',
  ],
};

/** The indexes each function queries (none for the others). */
const EXPECTED_INDEXES: Record<string, readonly string[]> = {
  api: ['byCorrelation', 'reviewQueue'],
  'lane runtime-nightly-anomaly-sweep': ['openRuns', 'reviewQueue'],
  workerSweep: ['openRuns'],
};

/** The only functions that may delete items, and the partitions they may delete in. */
const DELETERS = ['api', 'workerIngest', 'workerSweep'];
const DELETABLE_PARTITION = new RegExp(
  `^(WTASKS#${ENV}#(queued|executing|succeeded|failed)|WORKERS#${ENV})(#\\d)?$`,
);

describe('least privilege on the lifecycle table', () => {
  let stack: RunlaneStack;
  let template: Template;
  let tableId: string;
  const functions = new Map<string, { fn: RunlaneFunction; access: TableAccess }>();

  beforeAll(() => {
    stack = new RunlaneStack(testApp(), 'Runlane-prod', {
      environmentName: ENV,
      config: environmentConfig({ workers: { sites: ['lab', 'home'] } }),
      env: { region: TEST_REGION },
    });
    template = Template.fromStack(stack);
    tableId = logicalId(stack, stack.lifecycle.table.node.defaultChild as CfnElement);
    const workers = stack.workers;
    if (!workers) throw new Error('expected worker delegation');
    functions.set('api', { fn: stack.api.handlerFunction, access: TABLE_ACCESS.api(ENV) });
    for (const lane of stack.lanes) {
      functions.set(`lane ${lane.lane.name}`, {
        fn: lane.workerFunction,
        access: TABLE_ACCESS.laneWorker(lane.lane, ENV),
      });
    }
    functions.set('replayDispatcher', {
      fn: stack.replayDrill.dispatcherFunction,
      access: TABLE_ACCESS.replayDispatcher(),
    });
    functions.set('runnerEventIngest', {
      fn: stack.runnerEvents.ingestFunction,
      access: TABLE_ACCESS.runnerEventIngest(ENV),
    });
    functions.set('supervisorSilentHosts', {
      fn: stack.supervisorSilentHosts.checkFunction,
      access: TABLE_ACCESS.supervisorSilentHosts(ENV),
    });
    functions.set('workerIngest', { fn: workers.ingestFunction, access: TABLE_ACCESS.workerIngest(ENV) });
    functions.set('workerSweep', { fn: workers.sweepFunction, access: TABLE_ACCESS.workerSweep(ENV) });
  });

  /** The statements of the policies attached to a function's role that name the table. */
  function tableStatements(fn: RunlaneFunction): Statement[] {
    const roleId = logicalId(stack, fn.role.node.defaultChild as CfnElement);
    return statementsOfRole(template, roleId).filter((statement) =>
      JSON.stringify(statement.Resource).includes(tableId),
    );
  }

  it('covers every function that touches the table, and every lane', () => {
    expect([...functions.keys()].sort()).toEqual(Object.keys(EXPECTED_ACTIONS).sort());
    expect(LANES.map((lane) => `lane ${lane.name}`).every((name) => functions.has(name))).toBe(true);
    // No other role in the stack names the table.
    const known = new Set(
      [...functions.values()].map(({ fn }) => logicalId(stack, fn.role.node.defaultChild as CfnElement)),
    );
    const policies = template.findResources('AWS::IAM::Policy') as Record<
      string,
      { Properties: PolicyProps }
    >;
    const others = Object.values(policies)
      .filter((policy) => JSON.stringify(policy.Properties.PolicyDocument).includes(tableId))
      .flatMap((policy) => (policy.Properties.Roles ?? []).map((role) => role.Ref))
      .filter((role) => !known.has(role));
    expect(others).toEqual([]);
  });

  it.each(Object.entries(EXPECTED_ACTIONS))('gives %s exactly its actions', (name, expected) => {
    const entry = functions.get(name);
    if (!entry) throw new Error(`no function ${name}`);
    const actions = [...new Set(tableStatements(entry.fn).flatMap(actionsOfStatement))].sort();
    expect(actions).toEqual(expected.map((action) => `dynamodb:${action}`));
    // The declared map says the same.
    expect(actionsOf(entry.access)).toEqual([...expected]);
  });

  it.each(Object.keys(EXPECTED_ACTIONS))(
    'grants %s what TABLE_ACCESS declares, partition by partition',
    (name) => {
      const entry = functions.get(name);
      if (!entry) throw new Error(`no function ${name}`);
      const statements = tableStatements(entry.fn);
      const onItems = statements.filter(
        (statement) => !JSON.stringify(statement.Resource).includes('/index/'),
      );
      expect(
        onItems.map((statement) => ({ sid: statement.Sid, actions: actionsOfStatement(statement) })),
      ).toEqual(
        entry.access.items.map((item) => ({
          sid: item.sid,
          actions: item.actions.map((action) => `dynamodb:${action}`),
        })),
      );
      for (const [index, statement] of onItems.entries()) {
        // The table itself, never an index or a wildcard, and only in the partitions named.
        expect(statement.Resource).toEqual({ 'Fn::GetAtt': [tableId, 'Arn'] });
        expect(leadingKeys(statement)).toEqual(entry.access.items[index]?.partitions);
      }
      const onIndexes = statements.filter((statement) =>
        JSON.stringify(statement.Resource).includes('/index/'),
      );
      const indexes = onIndexes.flatMap((statement) =>
        JSON.stringify(statement.Resource).match(/\/index\/[A-Za-z*]+/g),
      );
      expect(indexes.map((index) => index?.slice('/index/'.length)).sort()).toEqual([
        ...(EXPECTED_INDEXES[name] ?? []),
      ]);
      for (const statement of onIndexes) expect(actionsOfStatement(statement)).toEqual(['dynamodb:Query']);
    },
  );

  it('lets no role in the stack Scan, use a dynamodb wildcard or manage the table', () => {
    const policies = template.findResources('AWS::IAM::Policy') as Record<
      string,
      { Properties: PolicyProps }
    >;
    const managed = template.findResources('AWS::IAM::ManagedPolicy') as Record<
      string,
      { Properties: PolicyProps }
    >;
    const all = [...Object.values(policies), ...Object.values(managed)].flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement,
    );
    const dynamo = all.flatMap(actionsOfStatement).filter((action) => action.startsWith('dynamodb:'));
    expect(dynamo.length).toBeGreaterThan(0);
    expect(dynamo.filter((action) => /Scan|\*|Table|BatchWrite|PartiQL|Export|Import/.test(action))).toEqual(
      [],
    );
  });

  it('attaches no AWS managed read-all policy (ReadOnlyAccess and the like) to any role', () => {
    const roles = Object.values(template.findResources('AWS::IAM::Role')) as {
      Properties: { ManagedPolicyArns?: unknown[] };
    }[];
    const managed = roles
      .flatMap((role) => role.Properties.ManagedPolicyArns ?? [])
      .map((arn) => JSON.stringify(arn));
    expect(
      managed.filter((arn) => /ReadOnlyAccess|AdministratorAccess|FullAccess|PowerUser/.test(arn)),
    ).toEqual([]);
  });

  it('lets only the API, the worker ingest and the worker sweep delete, in status and registry partitions only', () => {
    for (const [name, { fn }] of functions) {
      const deleting = tableStatements(fn).filter((statement) =>
        actionsOfStatement(statement).includes('dynamodb:DeleteItem'),
      );
      if (!DELETERS.includes(name)) {
        expect(deleting, name).toEqual([]);
        continue;
      }
      expect(deleting.length, name).toBeGreaterThan(0);
      for (const statement of deleting) {
        const partitions = leadingKeys(statement);
        expect(partitions.length).toBeGreaterThan(0);
        expect(
          partitions.filter((partition) => !DELETABLE_PARTITION.test(partition)),
          name,
        ).toEqual([]);
      }
    }
  });

  it('limits the agent event ingest to its own environment’s runner and supervisor partitions', () => {
    const entry = functions.get('runnerEventIngest');
    if (!entry) throw new Error('no runner event ingest');
    expect(tableStatements(entry.fn).flatMap(leadingKeys)).toEqual([
      `RUNNER#${ENV}#*`,
      `SUPERVISOR#${ENV}#*`,
    ]);
  });

  it('keeps the command path’s functions out of the agent, replay and worker partitions', () => {
    for (const name of ['lane runtime-ingestion-completed', 'lane runtime-nightly-anomaly-sweep']) {
      const entry = functions.get(name);
      if (!entry) throw new Error(`no function ${name}`);
      expect(tableStatements(entry.fn).flatMap(leadingKeys)).toEqual(['RUN#*']);
    }
    const api = functions.get('api');
    if (!api) throw new Error('no api');
    expect(
      tableStatements(api.fn)
        .flatMap(leadingKeys)
        .filter((key) => /^(RUNNER|SUPERVISOR|REPLAYBODY|DRILL)#/.test(key)),
    ).toEqual([]);
  });
});

interface PolicyProps {
  readonly PolicyDocument: { readonly Statement: Statement[] };
  readonly Roles?: { readonly Ref: string }[];
}

function logicalId(stack: Stack, element: CfnElement): string {
  return stack.resolve(element.logicalId) as string;
}

function statementsOfRole(template: Template, roleId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy') as Record<string, { Properties: PolicyProps }>;
  return Object.values(policies)
    .filter((policy) => (policy.Properties.Roles ?? []).some((role) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

function actionsOfStatement(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** The `dynamodb:LeadingKeys` values of a statement (none: an empty list). */
function leadingKeys(statement: Statement): string[] {
  const condition =
    statement.Condition?.['ForAllValues:StringLike'] ?? statement.Condition?.['ForAllValues:StringEquals'];
  return condition?.['dynamodb:LeadingKeys'] ?? [];
}
