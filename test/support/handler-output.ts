import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';
import { vi } from 'vitest';

/** One JSON line a deployed handler printed: a Powertools log record, or an EMF blob (`_aws`). */
export interface PrintedLine {
  readonly _aws?: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

/** The event a scheduled function gets from the EventBridge rule `ruleName`. */
export function aScheduledEvent(ruleName: string): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:events:us-east-1:000000000000:rule/${ruleName}`],
    detail: {},
  };
}

export interface HandlerOutput {
  /** The JSON lines printed since the last call (or since the capture began). */
  take(): PrintedLine[];
  /** Gives stdout and stderr back. */
  restore(): void;
}

/**
 * Captures what a handler prints, as Lambda would ship it to CloudWatch Logs: EMF and info
 * lines go to stdout, warnings to stderr (Powertools' own Console writes to both streams).
 */
export function captureHandlerOutput(): HandlerOutput {
  let printed: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    printed.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  return {
    take: () => {
      const lines = printed
        .flatMap((chunk) => chunk.split('\n'))
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as PrintedLine);
      printed = [];
      return lines;
    },
    restore: () => {
      stdout.mockRestore();
      stderr.mockRestore();
    },
  };
}

/** The EMF lines among `lines`. */
export const emfLines = (lines: readonly PrintedLine[]): PrintedLine[] =>
  lines.filter((line) => line._aws !== undefined);

/** The WARN log records among `lines`. */
export const warnLines = (lines: readonly PrintedLine[]): PrintedLine[] =>
  lines.filter((line) => line.level === 'WARN');
