#!/usr/bin/env node
/**
 * CDK app entry (`cdk.json` "app"). Creates one stack per environment, or only
 * the one named by `-c env=<name>`, and registers cdk-nag. Nothing else.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError } from '#lib/config/environment-config.js';
import { UnknownEnvironmentError } from '#lib/errors.js';
import { addNagChecks } from '#lib/nag.js';
import { createRunlaneStacks } from '#lib/runlane-app.js';

const app = new App();
try {
  createRunlaneStacks(app);
} catch (error) {
  if (error instanceof ConfigError || error instanceof UnknownEnvironmentError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
addNagChecks(app);
app.synth();
