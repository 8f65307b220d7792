/** Local auth's public API (local-auth.ts), by the folder's name. */
export * from './local-auth.js';
