import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { LIFECYCLE_TABLE } from '#contracts/tables.js';
import { LifecycleStorage } from '#lib/storage/lifecycle-storage.js';
import { roleStatements, testStack, thrownMessage } from './support.js';

describe('LifecycleStorage', () => {
  let template: Template;

  beforeAll(() => {
    const stack = testStack();
    const storage = new LifecycleStorage(stack, 'Lifecycle');
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    storage.grantTableAccess(reader, {
      items: [
        { sid: 'Runs', actions: ['GetItem', 'Query'], partitions: ['RUN#*'] },
        { sid: 'Flag', actions: ['PutItem'], partitions: ['WCONFIG#dev'] },
      ],
      indexes: ['reviewQueue'],
    });
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

  it('grants each entry on the table in its partitions only, and Query on the indexes named', () => {
    expect(roleStatements(template, /Reader/)).toEqual([
      expect.objectContaining({
        Sid: 'Runs',
        Action: ['dynamodb:GetItem', 'dynamodb:Query'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/LifecycleTable/), 'Arn'] },
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RUN#*'] } },
      }),
      expect.objectContaining({
        Sid: 'Flag',
        Action: 'dynamodb:PutItem',
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['WCONFIG#dev'] } },
      }),
      expect.objectContaining({
        Sid: 'QueryIndexes',
        Action: 'dynamodb:Query',
        Resource: {
          'Fn::Join': [
            '',
            [{ 'Fn::GetAtt': [expect.stringMatching(/LifecycleTable/), 'Arn'] }, '/index/reviewQueue'],
          ],
        },
      }),
    ]);
    expect(JSON.stringify(roleStatements(template, /Reader/))).not.toContain('/index/*');
  });

  it('protects the retained table from deletion', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: true })],
    });
  });
});

describe('LifecycleStorage options', () => {
  it('is destroyed with the stack when retainOnDelete is false', () => {
    const stack = testStack();
    new LifecycleStorage(stack, 'Lifecycle', { retainOnDelete: false });
    Template.fromStack(stack).hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Delete' });
  });

  it('is not deletion-protected when it is not retained, unless asked', () => {
    const throwaway = testStack();
    new LifecycleStorage(throwaway, 'Lifecycle', { retainOnDelete: false });
    Template.fromStack(throwaway).hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })],
    });
    const unprotected = testStack();
    new LifecycleStorage(unprotected, 'Lifecycle', { deletionProtection: false });
    Template.fromStack(unprotected).hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })],
    });
  });

  it('refuses a grant entry without actions or partitions', () => {
    const stack = testStack();
    const storage = new LifecycleStorage(stack, 'Lifecycle');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    expect(
      thrownMessage(() =>
        storage.grantTableAccess(role, {
          items: [
            { sid: 'Nothing', actions: [], partitions: ['RUN#*'] },
            { sid: 'Anywhere', actions: ['GetItem'], partitions: [] },
          ],
          indexes: [],
        }),
      ),
    ).toMatch(/Nothing: names no action[\s\S]*Anywhere: names no partition/);
  });

  it('rejects an invalid table name', () => {
    expect(
      thrownMessage(() => new LifecycleStorage(testStack(), 'Lifecycle', { tableName: 'a b' })),
    ).toContain('tableName: must be 3-255 characters');
  });
});
