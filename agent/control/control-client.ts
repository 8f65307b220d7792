import { createConnection } from 'node:net';
import type { ControlCommand } from '../supervisor/handle.js';
import { ControlClientError } from './errors.js';
import { type ControlResponseFor, responseSchemaFor } from './protocol.js';

/** Longest response line the client reads; `current_state` of many children stays far below. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export interface SendControlCommandOptions {
  /** Whole exchange: connect, send, answer. @default 5000 */
  readonly timeoutMs?: number;
}

/**
 * Sends one command to the control socket at `path` and resolves to its response line, checked
 * against the protocol (`{ ok: false, … }` when the server did not understand the request).
 * Rejects with a `ControlClientError` whose `code` says why no answer came.
 *
 * @example
 * const answer = await sendControlCommand('/run/runlane/supervisor.sock', { command: 'remove-child', name: 'relay' });
 * if ('result' in answer && answer.result === 'Rejected') console.error(answer.reason);
 */
export function sendControlCommand<C extends ControlCommand>(
  path: string,
  command: C,
  options: SendControlCommandOptions = {},
): Promise<ControlResponseFor<C>> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (outcome: { error: ControlClientError } | { response: ControlResponseFor<C> }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if ('error' in outcome) reject(outcome.error);
      else resolve(outcome.response);
    };
    const fail = (code: ControlClientError['code'], message: string, cause?: unknown): void =>
      finish({
        error: new ControlClientError(code, path, message, cause === undefined ? undefined : { cause }),
      });

    const timer = setTimeout(
      () => fail('timeout', `no answer from the supervisor on ${path} within ${timeoutMs} ms`),
      timeoutMs,
    );
    socket.once('connect', () => socket.write(`${JSON.stringify(command)}\n`));
    socket.on('data', (data: Buffer) => {
      const newline = data.indexOf(0x0a);
      chunks.push(newline === -1 ? data : data.subarray(0, newline));
      size += newline === -1 ? data.length : newline;
      if (size > MAX_RESPONSE_BYTES) {
        fail('protocol', `answer from ${path} longer than ${MAX_RESPONSE_BYTES} bytes`);
        return;
      }
      if (newline === -1) return;
      const line = Buffer.concat(chunks).toString('utf8');
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        fail('protocol', `the answer from ${path} is not JSON: ${line.slice(0, 200)}`, error);
        return;
      }
      const parsed = responseSchemaFor(command.command).safeParse(value);
      if (!parsed.success) {
        fail('protocol', `unexpected answer from ${path} to ${command.command}: ${line.slice(0, 200)}`);
        return;
      }
      finish({ response: parsed.data as ControlResponseFor<C> });
    });
    socket.once('end', () =>
      fail('protocol', `the supervisor on ${path} closed the connection without answering`),
    );
    socket.once('error', (error: NodeJS.ErrnoException) => {
      switch (error.code) {
        case 'ENOENT':
        case 'ENOTDIR':
          fail(
            'no_supervisor',
            `no supervisor control socket at ${path} (is runlane-agent supervise running?)`,
            error,
          );
          return;
        case 'ECONNREFUSED':
          fail(
            'stale_socket',
            `nothing listens on ${path}: a stale socket left by a supervisor that is no longer running`,
            error,
          );
          return;
        case 'EACCES':
        case 'EPERM':
          fail(
            'permission_denied',
            `permission denied on ${path}: the control socket is owner-only; run as the supervisor's user`,
            error,
          );
          return;
        default:
          fail('io', `cannot talk to the supervisor on ${path}: ${error.code ?? error.message}`, error);
      }
    });
  });
}
