import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { namePrefixFor } from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import { ALARM_SEVERITIES, type AlarmSeverity } from './alarm-catalog.js';

export interface AlarmTopicsProps {
  /** Runlane environment name; names the topics `runlane-<env>-alarms-<severity>`. */
  readonly environmentName: string;
  /**
   * Email addresses subscribed to the critical topic.
   * @default - no subscriptions
   */
  readonly criticalEmails?: readonly string[];
  /**
   * Email addresses subscribed to the warning topic.
   * @default - no subscriptions
   */
  readonly warningEmails?: readonly string[];
  /**
   * Prefix of the topic names, and of the names of the alarms allowed to publish to them.
   * @default `runlane-<environmentName>`
   */
  readonly namePrefix?: string;
  /**
   * What happens to the topics' KMS key when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly keyRemovalPolicy?: RemovalPolicy;
}

/**
 * The two SNS topics an environment's alarms notify: `critical` (pages) and
 * `warning`.
 *
 * Creates:
 * - a customer managed KMS key with yearly rotation, usable by CloudWatch only
 *   on behalf of this account's alarms named `<prefix>-*` (CloudWatch cannot
 *   use the AWS managed `aws/sns` key);
 * - topics `<prefix>-alarms-critical` and `<prefix>-alarms-warning`, encrypted
 *   with that key, with a policy that denies publishing without TLS and lets
 *   CloudWatch publish for those alarms only;
 * - one email subscription per configured address.
 *
 * @example
 * const topics = new AlarmTopics(this, 'AlarmTopics', { environmentName: 'prod', criticalEmails: ['oncall@example.com'] });
 * alarm.addAlarmAction(new SnsAction(topics.topicFor('critical')));
 */
export class AlarmTopics extends Construct {
  public readonly key: kms.Key;
  public readonly critical: sns.Topic;
  public readonly warning: sns.Topic;
  /** Alarm names that may publish: `<prefix>-*`. */
  public readonly alarmNamePattern: string;

  public constructor(scope: Construct, id: string, props: AlarmTopicsProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? namePrefixFor(props.environmentName);
    const emails: Record<AlarmSeverity, readonly string[]> = {
      critical: props.criticalEmails ?? [],
      warning: props.warningEmails ?? [],
    };
    checkProps(prefix, emails);
    this.alarmNamePattern = `${prefix}-*`;

    const stack = Stack.of(this);
    const alarmArnPattern = stack.formatArn({
      service: 'cloudwatch',
      resource: 'alarm',
      resourceName: this.alarmNamePattern,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': alarmArnPattern },
    };

    this.key = new kms.Key(this, 'Key', {
      description: `Runlane ${props.environmentName}: encrypts the alarm notification topics`,
      enableKeyRotation: true,
      removalPolicy: props.keyRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // CloudWatch encrypts each notification with the topic's key (SNS docs: "compatibility
    // between event sources from AWS services and encrypted topics").
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowRunlaneAlarmsToUseTheKey',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromOurAlarms,
      }),
    );

    const makeTopic = (severity: AlarmSeverity): sns.Topic => {
      const topic = new sns.Topic(this, severity === 'critical' ? 'Critical' : 'Warning', {
        topicName: `${prefix}-alarms-${severity}`,
        displayName: `Runlane ${props.environmentName} ${severity} alarms`,
        masterKey: this.key,
        enforceSSL: true,
      });
      // The SSL policy replaces the default topic policy, so CloudWatch needs its own grant.
      topic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowRunlaneAlarmsToPublish',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [topic.topicArn],
          conditions: fromOurAlarms,
        }),
      );
      for (const email of emails[severity]) topic.addSubscription(new subscriptions.EmailSubscription(email));
      return topic;
    };
    this.critical = makeTopic('critical');
    this.warning = makeTopic('warning');
  }

  /** The topic alarms of this severity notify. */
  public topicFor(severity: AlarmSeverity): sns.Topic {
    return severity === 'critical' ? this.critical : this.warning;
  }
}

function checkProps(prefix: string, emails: Record<AlarmSeverity, readonly string[]>): void {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(prefix)) {
    problems.push(`namePrefix: "${prefix}" must be 1-200 characters of [A-Za-z0-9_-]`);
  }
  for (const severity of ALARM_SEVERITIES) {
    const prop = `${severity}Emails`;
    const list = emails[severity];
    list.forEach((email, index) => {
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
        problems.push(`${prop}.${index}: "${email}" is not an email address`);
      }
    });
    const duplicates = list.filter((email, index) => list.indexOf(email) !== index);
    if (duplicates.length > 0)
      problems.push(`${prop}: duplicate addresses ${[...new Set(duplicates)].join(', ')}`);
  }
  throwIfProblems('AlarmTopics', problems);
}
