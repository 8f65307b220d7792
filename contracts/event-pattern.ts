/**
 * EventBridge event-pattern matching, for routing events locally with the
 * same patterns the stack gives its rules. Supports what Runlane's rules use:
 * value lists, nested fields, `prefix`, `suffix`, `anything-but`, `exists`
 * and `numeric` comparisons.
 */
export type EventPattern = { readonly [field: string]: EventPattern | readonly PatternValue[] };
type PatternValue =
  | string
  | number
  | boolean
  | null
  | { readonly prefix: string }
  | { readonly suffix: string }
  | { readonly 'anything-but': string | number | readonly (string | number)[] }
  | { readonly exists: boolean }
  | { readonly numeric: readonly (string | number)[] };

/**
 * True when the event matches the pattern.
 *
 * @example
 * matchesEventPattern({ source: ['runlane.agent'], detail: { rootCause: [{ prefix: 'net' }] } }, event);
 */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const record = event as Record<string, unknown>;
  return Object.entries(pattern).every(([field, expected]) => {
    const actual = record[field];
    if (Array.isArray(expected)) return matchesValues(expected as readonly PatternValue[], actual);
    return matchesEventPattern(expected as EventPattern, actual);
  });
}

function matchesValues(expected: readonly PatternValue[], actual: unknown): boolean {
  const values = Array.isArray(actual) ? actual : [actual];
  return expected.some((rule) => {
    if (rule !== null && typeof rule === 'object') {
      if ('exists' in rule) return rule.exists === (actual !== undefined);
      if (actual === undefined) return false;
      return values.some((value) => matchesRule(rule, value));
    }
    return values.some((value) => value === rule);
  });
}

function matchesRule(rule: Exclude<PatternValue, string | number | boolean | null>, value: unknown): boolean {
  if ('prefix' in rule) return typeof value === 'string' && value.startsWith(rule.prefix);
  if ('suffix' in rule) return typeof value === 'string' && value.endsWith(rule.suffix);
  if ('anything-but' in rule) {
    const excluded = Array.isArray(rule['anything-but']) ? rule['anything-but'] : [rule['anything-but']];
    return !excluded.includes(value as string | number);
  }
  if ('numeric' in rule) {
    if (typeof value !== 'number') return false;
    const terms = rule.numeric;
    for (let i = 0; i + 1 < terms.length; i += 2) {
      const operator = terms[i];
      const bound = Number(terms[i + 1]);
      const ok =
        operator === '='
          ? value === bound
          : operator === '<'
            ? value < bound
            : operator === '<='
              ? value <= bound
              : operator === '>'
                ? value > bound
                : operator === '>='
                  ? value >= bound
                  : false;
      if (!ok) return false;
    }
    return true;
  }
  return false;
}
