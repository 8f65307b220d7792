import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Construct } from 'constructs';
import type { CommandLane } from '../../lanes/command-lane.js';
import {
  ALARM_CATALOG,
  type AlarmKind,
  type AlarmKindName,
  type AlarmSeverity,
  runbookLink,
} from '../alarm-catalog.js';
import type { AlarmTopics } from '../alarm-topics.js';

/** One alarm with what it watches. */
export interface RunlaneAlarm {
  readonly kind: AlarmKindName;
  readonly severity: AlarmSeverity;
  /** The lane it watches; undefined for environment-wide and site alarms. */
  readonly lane?: string;
  /** The worker site whose task lane it watches; undefined for the others. */
  readonly site?: string;
  readonly alarm: cloudwatch.Alarm;
}

/** Whom one alarm is about: a lane, a worker site, or (no subject) the environment. */
export interface AlarmSubject {
  /** Construct id prefix, e.g. the lane id. */
  readonly id: string;
  /** Alarm name infix after the prefix, e.g. the lane name or `worker-tasks-<site>`. */
  readonly name: string;
  /** How the description names it. */
  readonly label: string;
  readonly lane?: string;
  readonly site?: string;
}

/** How many periods an alarm evaluates, and how many of them must breach. */
export interface AlarmEvaluation {
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
}

/** One alarm to create: its catalog kind, what it watches and when it fires. */
export interface AlarmSpec {
  readonly kind: AlarmKindName;
  /**
   * The lane or site it watches.
   * @default the environment (all lanes)
   */
  readonly subject?: AlarmSubject;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly comparisonOperator: cloudwatch.ComparisonOperator;
  /** The condition in words, for the description. */
  readonly condition: string;
  /**
   * The evaluation, for kinds whose catalog entry takes it from the configuration.
   * @default the catalog entry's
   */
  readonly evaluation?: AlarmEvaluation;
}

/** Where the alarms go and how they are named. */
export interface AlarmFactoryProps {
  /** Construct scope of the alarms (`RunlaneAlarms`). */
  readonly scope: Construct;
  /** Runlane environment name: the description's, and the `Environment` dimension the families read. */
  readonly environmentName: string;
  /** Prefix of the alarm names. */
  readonly namePrefix: string;
  /** Topics the alarms notify, by severity. */
  readonly topics: AlarmTopics;
}

/**
 * Creates alarms from `ALARM_CATALOG` entries and keeps them in creation order:
 * the name is `<prefix>[-<subject>]-<slug>`, the description names the
 * environment, the subject, the condition, the severity and the runbook link;
 * missing data follows the entry; the severity's topic is notified on ALARM and OK.
 *
 * @example
 * const factory = new AlarmFactory({ scope: this, environmentName: 'prod', namePrefix: 'runlane-prod', topics });
 * factory.add({ kind: 'runnerEventDeadLetters', metric, threshold: 0, comparisonOperator, condition: 'the DLQ holds a message' });
 * factory.alarms; // [{ kind: 'runnerEventDeadLetters', severity: 'warning', alarm }]
 */
export class AlarmFactory {
  public readonly environmentName: string;
  private readonly props: AlarmFactoryProps;
  private readonly created: RunlaneAlarm[] = [];

  public constructor(props: AlarmFactoryProps) {
    this.props = props;
    this.environmentName = props.environmentName;
  }

  /** The alarms created so far, in creation order. */
  public get alarms(): readonly RunlaneAlarm[] {
    return this.created;
  }

  public add(spec: AlarmSpec): void {
    const { kind, subject } = spec;
    const entry: AlarmKind = ALARM_CATALOG[kind];
    const evaluationPeriods = entry.evaluationPeriods ?? spec.evaluation?.evaluationPeriods;
    const datapointsToAlarm = entry.datapointsToAlarm ?? spec.evaluation?.datapointsToAlarm;
    if (evaluationPeriods === undefined || datapointsToAlarm === undefined) {
      throw new Error(`alarm kind ${kind} takes its evaluation from the configuration; none given`);
    }
    const { scope, namePrefix: prefix, environmentName: env } = this.props;
    const alarm = new cloudwatch.Alarm(
      scope,
      subject ? `${subject.id}${capitalize(kind)}` : capitalize(kind),
      {
        alarmName: subject ? `${prefix}-${subject.name}-${entry.slug}` : `${prefix}-${entry.slug}`,
        alarmDescription: `${entry.title} (${env}, ${subject?.label ?? 'all lanes'}): ${spec.condition}. Severity ${entry.severity}. Runbook: ${runbookLink(kind)}`,
        metric: spec.metric,
        threshold: spec.threshold,
        comparisonOperator: spec.comparisonOperator,
        evaluationPeriods,
        datapointsToAlarm,
        treatMissingData:
          (entry.missingData ?? 'notBreaching') === 'breaching'
            ? cloudwatch.TreatMissingData.BREACHING
            : cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    const action = new actions.SnsAction(this.props.topics.topicFor(entry.severity));
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.created.push({
      kind,
      severity: entry.severity,
      ...(subject?.lane !== undefined ? { lane: subject.lane } : {}),
      ...(subject?.site !== undefined ? { site: subject.site } : {}),
      alarm,
    });
  }
}

/** The subject of a lane's alarms: construct id from the lane id, name and label from its name. */
export function laneSubject(lane: CommandLane): AlarmSubject {
  return { id: lane.lane.id, name: lane.lane.name, label: `lane ${lane.lane.name}`, lane: lane.lane.name };
}

/** The catalog's period of a kind, or `fallback` where the catalog leaves it to the configuration. */
export function catalogPeriod(kind: AlarmKindName, fallback: Duration): Duration {
  const seconds = ALARM_CATALOG[kind].periodSeconds;
  return seconds === null ? fallback : Duration.seconds(seconds);
}

/** An evaluation in which every one of `periods` periods must breach. */
export function everyPeriod(periods: number): AlarmEvaluation {
  return { evaluationPeriods: periods, datapointsToAlarm: periods };
}

export function capitalize(value: string): string {
  return value.charAt(0).toUpperCase() + value.slice(1);
}
