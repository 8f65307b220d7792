#!/usr/bin/env node
/** `npm run synth`: every environment synthesized, cdk-nag clean (lib/synth/synth-all.ts). */
import { synthAllMain } from '#lib/synth/synth-all.js';

process.exitCode = synthAllMain(process.argv.slice(2));
