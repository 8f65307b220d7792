/** The local runtime: emulators, local SDK clients, provisioning and Lambda event-source mapping. */
export * from './clients.js';
export * from './dynamodb-local.js';
export * from './emulators.js';
export * from './errors.js';
export * from './event-source-mapping.js';
export * from './lambda-context.js';
export * from './logger.js';
export * from './provision.js';
export * from './sqs-emulator.js';
export * from './sqs-event.js';
