import type { StructuredLogger } from '#adapters/powertools/structured-logger.js';

const COLORS = { info: '\x1b[36m', warn: '\x1b[33m', error: '\x1b[31m' } as const;
const KEYS_FIRST = ['lane', 'commandId', 'correlationId', 'runId', 'messageId'];

/** Renders structured log lines for people: time, level, message, then key=value pairs. */
export function prettyLogger(
  service: string,
  write: (line: string) => void = (l) => process.stdout.write(l),
): StructuredLogger {
  const color = process.stdout.isTTY;
  const line =
    (level: keyof typeof COLORS) =>
    (message: string, extra: Record<string, unknown> = {}) => {
      const time = new Date().toISOString().slice(11, 23);
      const keys = [
        ...KEYS_FIRST.filter((k) => k in extra),
        ...Object.keys(extra).filter((k) => !KEYS_FIRST.includes(k)),
      ];
      const fields = keys
        .filter((k) => extra[k] !== undefined)
        .map((k) => `${k}=${typeof extra[k] === 'string' ? extra[k] : JSON.stringify(extra[k])}`)
        .join(' ');
      const label = level.toUpperCase().padEnd(5);
      write(
        `${time} ${color ? `${COLORS[level]}${label}\x1b[0m` : label} ${service} ${message}${fields ? `  ${fields}` : ''}\n`,
      );
    };
  return { info: line('info'), warn: line('warn'), error: line('error') };
}
