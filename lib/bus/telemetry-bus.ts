import type { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { namePrefixFor } from '../defaults.js';
import { throwIfProblems } from '../errors.js';

export interface TelemetryBusProps {
  /** Runlane environment name; names the bus `runlane-<env>-telemetry`. */
  readonly environmentName: string;
  /**
   * Bus name.
   * @default `runlane-<environmentName>-telemetry`
   */
  readonly busName?: string;
  /**
   * Keep an archive of every event for this long (for replays into the bus).
   * @default - no archive
   */
  readonly archiveRetention?: Duration;
}

/**
 * The telemetry bus: lane workers summarise each batch onto it and on-host
 * agents send their events to it (DESIGN §2).
 *
 * Creates an EventBridge event bus named per environment and, when
 * `archiveRetention` is set, an archive of all its events.
 *
 * @example
 * const telemetry = new TelemetryBus(this, 'Telemetry', { environmentName: 'dev' });
 * telemetry.grantPutEvents(worker);
 */
export class TelemetryBus extends Construct {
  public readonly bus: events.EventBus;
  public readonly archive?: events.Archive;

  public constructor(scope: Construct, id: string, props: TelemetryBusProps) {
    super(scope, id);
    const busName = props.busName ?? `${namePrefixFor(props.environmentName)}-telemetry`;
    checkProps(props, busName);

    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: busName,
      description: `Runlane ${props.environmentName} telemetry: batch summaries and agent events`,
    });
    if (props.archiveRetention) {
      this.archive = this.bus.archive('Archive', {
        description: `Every event on ${busName}`,
        eventPattern: { account: [this.bus.env.account] },
        retention: props.archiveRetention,
      });
    }
  }

  /** Name of the bus, for `TELEMETRY_BUS_NAME`. */
  public get busName(): string {
    return this.bus.eventBusName;
  }

  /** Lets `grantee` call PutEvents on this bus only. */
  public grantPutEvents(grantee: iam.IGrantable): iam.Grant {
    return this.bus.grantPutEventsTo(grantee);
  }
}

function checkProps(props: TelemetryBusProps, busName: string): void {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9._-]{1,256}$/.test(busName) || busName === 'default') {
    problems.push(`busName: must be 1-256 characters of [A-Za-z0-9._-] and not "default", got "${busName}"`);
  }
  if (props.archiveRetention !== undefined && props.archiveRetention.toDays({ integral: false }) < 1) {
    problems.push('archiveRetention: must be at least 1 day');
  }
  throwIfProblems('TelemetryBus', problems);
}
