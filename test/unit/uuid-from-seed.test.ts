import { describe, expect, it } from 'vitest';
import { commandEnvelopeSchema } from '#contracts/envelope.js';
import { uuidFromSeed } from '#core/replay/uuid-from-seed.js';

describe('uuidFromSeed', () => {
  it('is stable per seed, distinct across seeds, and a valid envelope commandId', () => {
    const id = uuidFromSeed('drill-1:m-1');
    expect(uuidFromSeed('drill-1:m-1')).toBe(id);
    expect(uuidFromSeed('drill-1:m-2')).not.toBe(id);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(commandEnvelopeSchema.shape.commandId.safeParse(id).success).toBe(true);
  });
});
