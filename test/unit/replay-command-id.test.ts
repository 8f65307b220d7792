import { describe, expect, it } from 'vitest';
import { commandEnvelopeSchema } from '#contracts/envelope.js';
import { replayCommandIdFor } from '#core/replay/replay-command-id.js';

describe('replayCommandIdFor', () => {
  it('is the RFC 9562 UUIDv5 of the original commandId in the replay namespace', () => {
    // Python: uuid.uuid5(uuid.UUID('fb5fd1ba-a179-4133-b27c-56059cf7119c'), '0b6c1f7e-3d2a-4c55-8e0f-1a2b3c4d5e6f')
    expect(replayCommandIdFor('0b6c1f7e-3d2a-4c55-8e0f-1a2b3c4d5e6f')).toBe(
      'b2824e71-7741-55df-9bd3-b2a8bf7d5727',
    );
  });

  it('is fixed by the original, distinct from it and across originals, and a valid commandId', () => {
    const original = '0b6c1f7e-3d2a-4c55-8e0f-1a2b3c4d5e6f';
    const id = replayCommandIdFor(original);
    expect(replayCommandIdFor(original)).toBe(id);
    expect(id).not.toBe(original);
    expect(replayCommandIdFor('0b6c1f7e-3d2a-4c55-8e0f-1a2b3c4d5e70')).not.toBe(id);
    // A replay of the replay gets its own id.
    expect(replayCommandIdFor(id)).not.toBe(id);
    expect(commandEnvelopeSchema.shape.commandId.safeParse(id).success).toBe(true);
  });
});
