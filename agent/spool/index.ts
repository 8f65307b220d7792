export * from './errors.js';
export * from './file-system.js';
export * from './offline-spool.js';
export * from './replay-loop.js';
export * from './spool-file.js';
export * from './spool-key.js';
export * from './spool-lock.js';
export type * from './types.js';
