import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { API_COMMAND_TYPES, API_ROUTES } from '#contracts/api-routes.js';
import { LANES } from '#contracts/lanes.js';
import { FAILURE_CODES } from '#contracts/lifecycle.js';
import {
  DEAD_LETTER_REASONS,
  emittedMetrics,
  isApiLane,
  isMetricDimensionSet,
  METRICS,
  type MetricDefinition,
  metricDimensionSets,
  metricDimensionValue,
  searchedDimensionSets,
} from '#contracts/metrics.js';
import { agentApprovalDecided } from '#core/commands/agent-approval-decided.js';
import { agentMessagePosted } from '#core/commands/agent-message-posted.js';

const definitions: readonly MetricDefinition[] = Object.values(METRICS);

describe('metric definitions', () => {
  it('gives every metric a unique name, a Powertools unit and Environment + Lane first (lane metrics)', () => {
    const names = definitions.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const definition of definitions) {
      expect(Object.values(MetricUnit)).toContain(definition.unit);
      expect(definition.dimensions[0]).toBe('Environment');
      if (definition.emittedBy === 'api' || definition.emittedBy === 'laneWorker') {
        expect(definition.dimensions.slice(0, 2)).toEqual(['Environment', 'Lane']);
        expect(definition.dimensionSets).toBeUndefined();
      }
    }
    expect(METRICS.commandsDeadLettered.dimensions).toEqual(['Environment', 'Lane', 'Reason']);
  });

  it('publishes RunnerStalls under the environment total, root cause × command type, and host', () => {
    expect(metricDimensionSets('runnerStalls')).toEqual([
      ['Environment'],
      ['Environment', 'RootCause', 'CommandType'],
      ['Environment', 'Host'],
    ]);
    for (const set of metricDimensionSets('runnerStalls')) {
      expect(set[0]).toBe('Environment');
      for (const name of set) expect(METRICS.runnerStalls.dimensions).toContain(name);
    }
    // Powertools warns on every EMF line where a dimension (other than the default) is in two sets.
    const repeated = metricDimensionSets('runnerStalls')
      .flatMap((set) => set.slice(1))
      .filter((name, index, all) => all.indexOf(name) !== index);
    expect(repeated).toEqual([]);
    expect(metricDimensionSets('commandsCompleted')).toEqual([['Environment', 'Lane']]);
    expect(isMetricDimensionSet('runnerStalls', ['Host', 'Environment'])).toBe(true);
    expect(isMetricDimensionSet('runnerStalls', ['Environment', 'RootCause'])).toBe(false);
    expect(isMetricDimensionSet('commandsCompleted', ['Environment'])).toBe(false);
  });

  it('lists the agent sets whose values only agents know, for the dashboard to SEARCH', () => {
    const byHost = (key: string, name: string) => ({ key, name, dimensions: ['Environment', 'Host'] });
    expect(searchedDimensionSets()).toEqual([
      { key: 'runnerStalls', name: 'RunnerStalls', dimensions: ['Environment', 'RootCause', 'CommandType'] },
      byHost('runnerStalls', 'RunnerStalls'),
      byHost('supervisorHealthReports', 'SupervisorHealthReports'),
      byHost('supervisorDisconnectedReports', 'SupervisorDisconnectedReports'),
      byHost('supervisorQuarantinedChildren', 'SupervisorQuarantinedChildren'),
      { key: 'supervisorChildExits', name: 'SupervisorChildExits', dimensions: ['Environment', 'ExitKind'] },
      byHost('supervisorChildExits', 'SupervisorChildExits'),
      byHost('supervisorChildQuarantines', 'SupervisorChildQuarantines'),
    ]);
  });

  it('publishes every supervisor metric as the environment total (the alarms) and per host, read with its statistic', () => {
    const supervisor = definitions.filter(
      (d) => d.name.startsWith('Supervisor') && d.emittedBy === 'runnerEventIngest',
    );
    expect(supervisor.map((d) => d.name)).toEqual([
      'SupervisorHealthReports',
      'SupervisorDisconnectedReports',
      'SupervisorQuarantinedChildren',
      'SupervisorChildExits',
      'SupervisorChildQuarantines',
    ]);
    for (const definition of supervisor) {
      expect(definition.emittedBy).toBe('runnerEventIngest');
      expect(definition.dimensionSets).toContainEqual(['Environment']);
      expect(definition.dimensionSets).toContainEqual(['Environment', 'Host']);
    }
    // A quarantine count is a level, not an event count: summing reports would scale with the report rate.
    expect(METRICS.supervisorQuarantinedChildren.statistic).toBe('Maximum');
    expect(METRICS.supervisorDisconnectedReports.statistic).toBe('Sum');
    expect(isMetricDimensionSet('supervisorChildExits', ['Environment', 'ExitKind'])).toBe(true);
    expect(isMetricDimensionSet('supervisorChildExits', ['Environment', 'ExitKind', 'Host'])).toBe(false);
  });

  it('publishes SupervisorSilentHosts from the scheduled check: the environment only, a level read as Maximum', () => {
    expect(METRICS.supervisorSilentHosts).toMatchObject({
      name: 'SupervisorSilentHosts',
      unit: 'Count',
      dimensions: ['Environment'],
      emittedBy: 'supervisorSilentHosts',
      statistic: 'Maximum',
    });
    expect(metricDimensionSets('supervisorSilentHosts')).toEqual([['Environment']]);
    // No per-host set: the check names the silent hosts in its log, not in metrics.
    expect(searchedDimensionSets().map((set) => set.name)).not.toContain('SupervisorSilentHosts');
  });

  it('makes agent strings valid dimension values', () => {
    expect(metricDimensionValue('build-01')).toBe('build-01');
    expect(metricDimensionValue(' bätch\t01 ')).toBe('b_tch_01');
    expect(metricDimensionValue('   ')).toBe('_');
    expect(metricDimensionValue('x'.repeat(300))).toHaveLength(250);
  });

  it('takes Reason values from the dead-letter reasons', () => {
    expect([...DEAD_LETTER_REASONS].sort()).toEqual(Object.values(FAILURE_CODES).sort());
  });

  it('knows which command types the API enqueues, from its routes', () => {
    expect(API_COMMAND_TYPES).toEqual([agentMessagePosted.commandType, agentApprovalDecided.commandType]);
    expect(API_ROUTES.postMessage.commandType).toBe('agent.message.posted');
    expect(LANES.filter(isApiLane).map((lane) => lane.name)).toEqual(['runtime-agent-message-posted']);
  });

  it('lists what one environment emits: worker metrics per lane, reasons per lane, accepted per API lane', () => {
    const emitted = emittedMetrics('prod');
    const workerMetrics = definitions.filter((d) => d.emittedBy === 'laneWorker');
    const perLane = workerMetrics.length - 1 + DEAD_LETTER_REASONS.length;
    // + CommandsAccepted on the one API lane + the environment totals of RunnerStalls, the 5 supervisor
    // metrics of the ingest and SupervisorSilentHosts of the scheduled check.
    expect(emitted).toHaveLength(LANES.length * perLane + 1 + 1 + 5 + 1);
    expect(emitted.filter((m) => m.name === 'SupervisorSilentHosts')).toEqual([
      { key: 'supervisorSilentHosts', name: 'SupervisorSilentHosts', dimensions: { Environment: 'prod' } },
    ]);
    expect(emitted.filter((m) => m.name === 'RunnerStalls')).toEqual([
      { key: 'runnerStalls', name: 'RunnerStalls', dimensions: { Environment: 'prod' } },
    ]);
    expect(emitted.filter((m) => m.name === 'CommandsAccepted')).toEqual([
      {
        key: 'commandsAccepted',
        name: 'CommandsAccepted',
        dimensions: { Environment: 'prod', Lane: 'runtime-agent-message-posted' },
      },
    ]);
    expect(emitted.filter((m) => m.name === 'CommandsDeadLettered').map((m) => m.dimensions.Reason)).toEqual(
      LANES.flatMap(() => DEAD_LETTER_REASONS),
    );
    for (const metric of emitted) {
      expect(metricDimensionSets(metric.key)).toContainEqual(Object.keys(metric.dimensions));
    }
  });
});
