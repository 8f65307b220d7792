import { readFileSync } from 'node:fs';
import { parseRunlaneConfig, type RunlaneConfig } from './environment-config.js';

/**
 * cdk.json's `runlane` context, validated (errors name the field path). A module of its own so
 * the CLI's entry can read it without loading the AWS SDK clients `targets.ts` brings.
 */
export function loadRunlaneConfig(): RunlaneConfig {
  const cdk = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
  return parseRunlaneConfig(cdk.context?.runlane);
}
