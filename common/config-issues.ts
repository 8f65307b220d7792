/**
 * Configuration problems named by their field path, the form every config error of the agent
 * (runner, supervisor, worker) and `runlane workers config` report: `field_path="children.1.name": …`.
 */
import type * as z from 'zod';

/** One problem of a configuration, named by its field path (or environment variable / flag). */
export interface ConfigIssue {
  readonly fieldPath: string;
  readonly message: string;
}

/** A zod error as config issues, field paths under `prefix`; `(root)` for the value itself. */
export function configIssues(error: z.ZodError, prefix: readonly (string | number)[] = []): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = [...prefix, ...issue.path.map(String)];
    return { fieldPath: path.length > 0 ? path.join('.') : '(root)', message: issue.message };
  });
}

/** `"field_path=\"children.1.name\": duplicate child name"`: the form the seed greps for. */
export function formatIssue(issue: ConfigIssue): string {
  return `field_path="${issue.fieldPath}": ${issue.message}`;
}
