#!/usr/bin/env node
// `runlane-agent …` from a clone: loads the TypeScript agent through tsx. Hosts run the bundle
// instead (`npm run build:agent`, dist/agent/runlane-agent.mjs; packaging/README.md).
import { register } from 'tsx/esm/api';

register();
const { runAgentProcess } = await import('#agent/cli/process.ts');
await runAgentProcess();
