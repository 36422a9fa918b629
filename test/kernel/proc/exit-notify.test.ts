/**
 * A child's exit signal is decided at its death, under the process lock, as Linux's
 * do_notify_parent decides it under the parent's siglock: a child dying while its parent
 * ignores SIGCHLD (SIG_IGN) sends nothing, even when the parent — having already seen ECHILD —
 * installs a SIGCHLD handler before the send would have happened. Before the fix the send read
 * the parent's action only afterwards, lock-free, so a late SIGCHLD from an auto-reaped child
 * reached the new handler: procgroup's "SIGCHLD with SA_NOCLDWAIT arrived 2 times" (1 run in a
 * full suite on 4 harts). procgroup checks it directly: a child exits under SIG_IGN, the
 * parent waits 10 ms, gets ECHILD, installs a handler and expects no SIGCHLD in the next 60 ms;
 * the injection point exit.before-notify delays the send by 30 ms, so the child's signal
 * would land after the handler in every run (it did, every run, before the fix).
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../lab/guest-runs.ts';
import { readFileSync } from 'node:fs';

const manifest = JSON.parse(readFileSync(new URL('../../../guests/manifest.json', import.meta.url), 'utf8')) as { guests: { name: string; stdout: string }[] };

describe('exit signal decided at the death', () => {
  it('procgroup with exit.before-notify 30 ms on 2 harts: no SIGCHLD from a child that died under SIG_IGN', async () => {
    const r = await runGuest({
      policy: 'ipi', guest: 'procgroup', args: [], cpus: 2, inject: { 'exit.before-notify': 30_000 }, timeoutMs: 90_000,
    });
    expect(r.stdout).toBe(manifest.guests.find((g) => g.name === 'procgroup')!.stdout);
    expect(r.status).toBe(0);
    expect(r.injectHits["exit.before-notify"]).toBeGreaterThan(3);
    expect(r.leaked).toBe(0);
  }, 120_000);
});
