import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { deadLetterQueueName } from '#contracts/lanes.js';
import { NIGHTLY_SWEEP_LANE, nightlySweepEnvelope } from '#contracts/nightly-sweep.js';
import { DEFAULT_SWEEP_SCHEDULE } from '../config/environment-config.js';
import {
  DEAD_LETTER_QUEUE_RETENTION,
  namePrefixFor,
  QUEUE_DEFAULTS,
  RULE_TARGET_DEFAULTS,
} from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import type { CommandLane } from './command-lane.js';

export interface NightlySweepScheduleProps {
  /** Runlane environment name; names the rule and its delivery DLQ. */
  readonly environmentName: string;
  /** The `runtime-nightly-anomaly-sweep` lane the rule enqueues to. */
  readonly sweepLane: CommandLane;
  /**
   * EventBridge schedule expression.
   * @default 'cron(0 3 * * ? *)'
   */
  readonly schedule?: string;
  /**
   * Delivery retries before the event goes to the delivery DLQ.
   * @default 8
   */
  readonly retryAttempts?: number;
  /**
   * Oldest an undelivered event may get before it goes to the delivery DLQ.
   * @default Duration.hours(24)
   */
  readonly maxEventAge?: Duration;
}

/**
 * The nightly anomaly sweep trigger (DESIGN §2 "Scheduler ─nightly──▶ anomaly-sweep lane").
 *
 * Creates:
 * - an EventBridge rule on the schedule that sends the sweep lane queue the
 *   envelope from `nightlySweepEnvelope(<event id>, <event time>)`, so every
 *   night is a fresh commandId (the event id) issued at the event time;
 * - a delivery DLQ `<prefix>-nightly-sweep-delivery-dlq` (SQS-managed SSE,
 *   TLS only, 14 days) for events EventBridge could not deliver after its
 *   retries. It is kept apart from the lane DLQ, which holds envelopes only.
 *
 * @example
 * new NightlySweepSchedule(this, 'NightlySweep', { environmentName: 'dev', sweepLane, schedule: 'cron(0 3 * * ? *)' });
 */
export class NightlySweepSchedule extends Construct {
  public readonly rule: events.Rule;
  public readonly deliveryDeadLetterQueue: sqs.Queue;

  public constructor(scope: Construct, id: string, props: NightlySweepScheduleProps) {
    super(scope, id);
    const schedule = props.schedule ?? DEFAULT_SWEEP_SCHEDULE;
    checkProps(props, schedule);
    const prefix = namePrefixFor(props.environmentName);

    this.deliveryDeadLetterQueue = new sqs.Queue(this, 'DeliveryDeadLetterQueue', {
      ...QUEUE_DEFAULTS,
      queueName: deadLetterQueueName(`${prefix}-nightly-sweep-delivery`),
      retentionPeriod: DEAD_LETTER_QUEUE_RETENTION,
    });
    const dlqReason =
      'This queue is the dead-letter target of the nightly sweep rule (an EventBridge target DeadLetterConfig, which cdk-nag cannot see as a redrive source); an operator reads it after a missed sweep, and a DLQ of a DLQ would only hide failures.';
    Validations.of(this.deliveryDeadLetterQueue).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: dlqReason },
      { id: 'Serverless-SQSRedrivePolicy', reason: dlqReason },
    );

    this.rule = new events.Rule(this, 'Rule', {
      ruleName: `${prefix}-nightly-anomaly-sweep`,
      description: `Runlane ${props.environmentName}: enqueue the nightly anomaly sweep`,
      schedule: events.Schedule.expression(schedule),
    });
    this.rule.addTarget(
      new targets.SqsQueue(props.sweepLane.queue, {
        message: events.RuleTargetInput.fromObject(
          nightlySweepEnvelope(events.EventField.eventId, events.EventField.time),
        ),
        deadLetterQueue: this.deliveryDeadLetterQueue,
        retryAttempts: props.retryAttempts ?? RULE_TARGET_DEFAULTS.retryAttempts,
        maxEventAge: props.maxEventAge ?? RULE_TARGET_DEFAULTS.maxEventAge,
      }),
    );
  }
}

function checkProps(props: NightlySweepScheduleProps, schedule: string): void {
  const problems: string[] = [];
  if (props.sweepLane.lane.name !== NIGHTLY_SWEEP_LANE) {
    problems.push(`sweepLane: must be the ${NIGHTLY_SWEEP_LANE} lane, got ${props.sweepLane.lane.name}`);
  }
  if (!/^(cron|rate)\(.+\)$/.test(schedule)) {
    problems.push(`schedule: must be a schedule expression such as cron(0 3 * * ? *), got "${schedule}"`);
  }
  const retries = props.retryAttempts;
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0 && retries <= 185)) {
    problems.push(`retryAttempts: must be an integer from 0 to 185, got ${retries}`);
  }
  const age = props.maxEventAge?.toSeconds({ integral: false });
  if (age !== undefined && (age < 60 || age > Duration.hours(24).toSeconds())) {
    problems.push(`maxEventAge: must be between 60 seconds and 24 hours, got ${age} seconds`);
  }
  throwIfProblems('NightlySweepSchedule', problems);
}
