import type { WorkerTaskMessage } from '#contracts/worker-contract.js';

/** A field of a log line. */
export type LogValue = string | number | boolean | null | undefined | readonly unknown[];

/** One line per event on stderr: `runlane-agent worker: <event> key=value …`, or JSON Lines. */
export interface WorkerLog {
  event(name: string, fields?: Readonly<Record<string, LogValue>>): void;
}

const BARE = /^[^\s"=\\]+$/;

/**
 * Writes one line per event: text (`runlane-agent worker: task_claimed task_id=… command_id=…`)
 * or, with `json`, one JSON object per line (`{"ts":…,"event":"task_claimed","task_id":…}`).
 * Fields that are undefined are left out.
 *
 * @example
 * const log = createWorkerLog((line) => process.stderr.write(line), { json: false });
 * log.event('task_claimed', { task_id: 't-1' }); // runlane-agent worker: task_claimed task_id=t-1
 */
export function createWorkerLog(
  write: (line: string) => void,
  options: { readonly json: boolean },
): WorkerLog {
  return {
    event: (name, fields = {}) => {
      const defined = Object.entries(fields).filter(([, value]) => value !== undefined);
      if (options.json) {
        write(
          `${JSON.stringify({ ts: new Date().toISOString(), event: name, ...Object.fromEntries(defined) })}\n`,
        );
        return;
      }
      const parts = defined.map(([key, value]) => {
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        return `${key}=${typeof value === 'string' && BARE.test(text) ? text : typeof value === 'string' ? JSON.stringify(text) : text}`;
      });
      write(`runlane-agent worker: ${[name, ...parts].join(' ')}\n`);
    },
  };
}

/** The ids every task log line carries (seed 003's correlation). */
export function taskLogFields(message: WorkerTaskMessage): Record<string, LogValue> {
  return {
    task_id: message.taskId,
    attempt: message.attempt,
    kind: message.input.kind,
    command_id: message.commandId,
    correlation_id: message.correlationId,
  };
}
