// --tlb-entries reaches the hardware: a smaller TLB takes more misses on the same guest; the page-walk
// cache's hits reach --stats-json.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;
const COHERENT = join(ROOT, 'bin/coherent');

function run(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(COHERENT, args, { cwd: ROOT, timeout: 90_000, encoding: 'utf8' }, (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout });
    });
  });
}

async function misses(entries: number, dir: string): Promise<number> {
  const stats = join(dir, `stats-${entries}.json`);
  const r = await run(['run', '--cpus', '1', '--tlb-entries', String(entries), '--stats-json', stats, 'guests/bin/compute']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('compute: OK');
  const s = JSON.parse(readFileSync(stats, 'utf8'));
  expect(s.config.tlbEntries).toBe(entries);
  return s.tlb.misses as number;
}

describe('--tlb-entries', () => {
  it('a smaller TLB takes more misses on the same guest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coherent-tlb-'));
    const small = await misses(8, dir);
    const large = await misses(4096, dir);
    expect(small).toBeGreaterThan(large);
  }, 180_000);
});

describe('--stats-json tlb.walkCacheHits (the page-walk cache, cpu/walk-cache.ts)', () => {
  it('a page-stride guest (maxrss: one store per page over 4096 pages) hits the walk cache; counted per hart and summed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coherent-wc-'));
    try {
      const stats = join(dir, 'stats.json');
      const r = await run(['run', '--cpus', '1', '--stats-json', stats, 'guests/bin/maxrss']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('maxrss: OK');
      const s = JSON.parse(readFileSync(stats, 'utf8'));
      expect(s.tlb.walkCacheHits).toBeGreaterThan(0);
      expect(s.tlb.walkCacheHits).toBeLessThanOrEqual(s.tlb.walks);
      expect(s.harts.reduce((n: number, h: { tlb: { walkCacheHits: number } }) => n + h.tlb.walkCacheHits, 0)).toBe(s.tlb.walkCacheHits);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
