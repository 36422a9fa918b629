import { describe, expect, it } from 'vitest';
import { apiExample } from '../../docs/examples/api-example.ts';

describe('docs/examples/api-example.ts (the example of docs/api.md)', () => {
  it('boots, runs the guest and the assembled litmus to exit 0, reads statistics, leaks no frame', async () => {
    const lines = await apiExample();
    expect(lines[0]).toBe('compute exited with 0');
    expect(lines[1]).toBe('litmus exited with 0');
    expect(lines[2]).toMatch(/^syscalls [1-9]\d*, page faults [1-9]\d*, context switches [1-9]\d*$/);
    expect(lines[3]).toMatch(/^frames: \d+ of 16384 free, 0 leaked$/);
  }, 30_000);
});
