import { WorkerConfigError } from '#common/worker-config.js';

/** The field paths of the {@link WorkerConfigError} `parse` throws; fails when it throws none. */
export function fieldPaths(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    if (error instanceof WorkerConfigError) return error.issues.map((issue) => issue.fieldPath);
    throw error;
  }
  throw new Error('expected a WorkerConfigError');
}
