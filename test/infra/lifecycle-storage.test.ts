import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { LIFECYCLE_TABLE } from '#contracts/tables.js';
import { LifecycleStorage } from '#lib/storage/lifecycle-storage.js';
import { actionsOn, roleStatements, testStack, thrownMessage } from './support.js';

describe('LifecycleStorage', () => {
  let template: Template;

  beforeAll(() => {
    const stack = testStack();
    const storage = new LifecycleStorage(stack, 'Lifecycle');
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    const writer = new iam.Role(stack, 'Writer', { assumedBy: new iam.AccountRootPrincipal() });
    storage.grantRead(reader);
    storage.grantReadWrite(writer);
    template = Template.fromStack(stack);
  });

  it('creates one on-demand table keyed by pk/sk', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: LIFECYCLE_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: LIFECYCLE_TABLE.sortKey, KeyType: 'RANGE' },
      ],
    });
  });

  it('encrypts with the AWS managed KMS key and enables point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
    });
  });

  it('expires items through TTL on expiresAt', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('has the sparse byCorrelation (KEYS_ONLY), reviewQueue (ALL) and openRuns (ALL) indexes', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byCorrelation',
          KeySchema: [
            { AttributeName: 'correlationKey', KeyType: 'HASH' },
            { AttributeName: 'issuedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
        {
          IndexName: 'reviewQueue',
          KeySchema: [
            { AttributeName: 'reviewQueue', KeyType: 'HASH' },
            { AttributeName: 'needsReviewSince', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: 'openRuns',
          KeySchema: [
            { AttributeName: 'openShard', KeyType: 'HASH' },
            { AttributeName: 'openDueAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'correlationKey', AttributeType: 'S' },
        { AttributeName: 'needsReviewSince', AttributeType: 'S' },
        { AttributeName: 'openShard', AttributeType: 'S' },
        { AttributeName: 'openDueAt', AttributeType: 'S' },
      ]),
    });
  });

  it('is retained on stack deletion by default', () => {
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('grants read-only or read-write data access, including the indexes', () => {
    const read = actionsOn(roleStatements(template, /Reader/), /LifecycleTable/);
    const write = actionsOn(roleStatements(template, /Writer/), /LifecycleTable/);
    expect(read).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
    expect(read).not.toContain('dynamodb:PutItem');
    expect(write).toEqual(
      expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']),
    );
    expect(JSON.stringify(roleStatements(template, /Writer/))).toContain('/index/*');
  });
});

describe('LifecycleStorage options', () => {
  it('is destroyed with the stack when retainOnDelete is false', () => {
    const stack = testStack();
    new LifecycleStorage(stack, 'Lifecycle', { retainOnDelete: false });
    Template.fromStack(stack).hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Delete' });
  });

  it('grants Query on named partitions only, and refuses to grant it on none', () => {
    const stack = testStack();
    const storage = new LifecycleStorage(stack, 'Lifecycle');
    const reader = new iam.Role(stack, 'PartitionReader', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    storage.grantQueryPartitions(reader, ['SUPERVISOR#dev']);
    expect(roleStatements(Template.fromStack(stack), /PartitionReader/)).toEqual([
      expect.objectContaining({
        Action: 'dynamodb:Query',
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['SUPERVISOR#dev'] } },
      }),
    ]);
    expect(() => storage.grantQueryPartitions(reader, [])).toThrow(/at least one partition/);
  });

  it('grants BatchGetItem alone, only on items whose partition matches a pattern', () => {
    const stack = testStack();
    const storage = new LifecycleStorage(stack, 'Lifecycle');
    const reader = new iam.Role(stack, 'TaskReader', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    storage.grantBatchGetPartitions(reader, ['WTASK#*']);
    expect(roleStatements(Template.fromStack(stack), /TaskReader/)).toEqual([
      expect.objectContaining({
        Action: 'dynamodb:BatchGetItem',
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['WTASK#*'] } },
      }),
    ]);
    expect(() => storage.grantBatchGetPartitions(reader, [])).toThrow(/at least one partition pattern/);
  });

  it('rejects an invalid table name', () => {
    expect(
      thrownMessage(() => new LifecycleStorage(testStack(), 'Lifecycle', { tableName: 'a b' })),
    ).toContain('tableName: must be 3-255 characters');
  });
});
