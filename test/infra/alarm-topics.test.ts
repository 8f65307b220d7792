import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { AlarmTopics } from '#lib/observability/alarm-topics.js';
import { testStack, thrownMessage } from './support.js';

describe('AlarmTopics', () => {
  let template: Template;

  beforeAll(() => {
    const stack = testStack();
    new AlarmTopics(stack, 'AlarmTopics', {
      environmentName: 'prod',
      criticalEmails: ['oncall@example.com', 'lead@example.com'],
      warningEmails: ['team@example.com'],
    });
    template = Template.fromStack(stack);
  });

  it('creates a critical and a warning topic, encrypted with a rotating customer managed key', () => {
    template.resourceCountIs('AWS::SNS::Topic', 2);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
    for (const severity of ['critical', 'warning']) {
      template.hasResourceProperties('AWS::SNS::Topic', {
        TopicName: `runlane-prod-alarms-${severity}`,
        KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AlarmTopicsKey'), 'Arn'] },
      });
    }
  });

  it('denies publishing without TLS and lets only this account’s Runlane alarms publish', () => {
    const policies = template.findResources('AWS::SNS::TopicPolicy');
    expect(Object.keys(policies)).toHaveLength(2);
    for (const policy of Object.values(policies)) {
      const statements = policy.Properties.PolicyDocument.Statement;
      expect(statements).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Sid: 'AllowPublishThroughSSLOnly',
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          expect.objectContaining({
            Sid: 'AllowRunlaneAlarmsToPublish',
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: { 'aws:SourceArn': expect.objectContaining({ 'Fn::Join': expect.anything() }) },
            },
          }),
        ]),
      );
      expect(JSON.stringify(statements)).toContain(':alarm:runlane-prod-*');
    }
  });

  it('lets CloudWatch use the key for those alarms only', () => {
    const key = Object.values(template.findResources('AWS::KMS::Key'))[0];
    const statement = key?.Properties.KeyPolicy.Statement.find(
      (s: { Sid?: string }) => s.Sid === 'AllowRunlaneAlarmsToUseTheKey',
    );
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    expect(JSON.stringify(statement.Condition.ArnLike)).toContain(':alarm:runlane-prod-*');
  });

  it('subscribes each configured address to its topic by email', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 3);
    for (const [email, topic] of [
      ['oncall@example.com', 'Critical'],
      ['lead@example.com', 'Critical'],
      ['team@example.com', 'Warning'],
    ]) {
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: email,
        TopicArn: { Ref: Match.stringLikeRegexp(`^AlarmTopics${topic}`) },
      });
    }
  });

  it('destroys the key with the stack when asked (sandbox environments)', () => {
    const stack = testStack();
    new AlarmTopics(stack, 'AlarmTopics', {
      environmentName: 'dev',
      keyRemovalPolicy: RemovalPolicy.DESTROY,
    });
    const template = Template.fromStack(stack);
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('checks its props up front, listing every problem', () => {
    const message = thrownMessage(
      () =>
        new AlarmTopics(testStack(), 'AlarmTopics', {
          environmentName: 'dev',
          namePrefix: 'bad prefix',
          criticalEmails: ['a@example.com', 'a@example.com'],
          warningEmails: ['nope'],
        }),
    );
    expect(message).toContain('Invalid AlarmTopics props');
    expect(message).toContain('namePrefix: "bad prefix"');
    expect(message).toContain('criticalEmails: duplicate addresses a@example.com');
    expect(message).toContain('warningEmails.0: "nope" is not an email address');
  });
});
