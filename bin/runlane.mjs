#!/usr/bin/env node
// `npx runlane …`: loads the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
await import('#cli/main.ts');
