/**
 * The page cache as the single truth for host file data, through a real static program
 * (test/fixtures/proc/filecache; source and build script in test/fixtures/gen/): two opens of
 * one file share one cache file (a mapping through one fd sees write() through the other at
 * once, read() sees stores to the mapping before msync, two mappings share frames);
 * ftruncate shrinking unmaps pages past the new end everywhere (SIGBUS on touch) and zeroes
 * the last page's tail; open(O_TRUNC) empties the cache. Output as under qemu-riscv64 (Linux).
 */
import { describe, expect, it } from 'vitest';
import { runFixture } from '../../helpers/fixture-run.ts';

const EXPECTED = [
  'filecache: two opens share one cache',
  'filecache: ftruncate shrink: SIGBUS past the end, tail zeroed',
  'filecache: O_TRUNC empties the cache',
  'filecache: OK',
  '',
].join('\n');

describe('page cache shared by every open of a host file', () => {
  for (const cpus of [1, 4]) {
    it(`${cpus} hart(s): exact output, file removed, no frame leaked`, async () => {
      const r = await runFixture('filecache', cpus);
      expect(r.stdout).toBe(EXPECTED);
      expect(r.status).toBe(0);
      expect(r.leftover).toEqual([]);
      expect(r.leaked).toBe(0);
    }, 30_000);
  }
});
