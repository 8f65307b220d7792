import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { API_COMMAND_TYPES, API_ROUTES } from '../../functions/core/api/routes.js';
import { agentApprovalDecided } from '../../functions/core/commands/agent-approval-decided.js';
import { agentMessagePosted } from '../../functions/core/commands/agent-message-posted.js';
import { LANES } from '../../functions/core/lanes.js';
import { FAILURE_CODES } from '../../functions/core/lifecycle.js';
import {
  DEAD_LETTER_REASONS,
  emittedMetrics,
  isApiLane,
  METRICS,
  type MetricDefinition,
} from '../../functions/core/metrics.js';

const definitions: readonly MetricDefinition[] = Object.values(METRICS);

describe('metric definitions', () => {
  it('gives every metric a unique name, a Powertools unit and Environment + Lane first', () => {
    const names = definitions.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const definition of definitions) {
      expect(Object.values(MetricUnit)).toContain(definition.unit);
      expect(definition.dimensions.slice(0, 2)).toEqual(['Environment', 'Lane']);
    }
    expect(METRICS.commandsDeadLettered.dimensions).toEqual(['Environment', 'Lane', 'Reason']);
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
    expect(emitted).toHaveLength(LANES.length * perLane + 1);
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
      expect(Object.keys(metric.dimensions)).toEqual(METRICS[metric.key].dimensions);
    }
  });
});
