/**
 * Issue 14 item 6: every ENOSYS a guest gets is counted by syscall number — an unknown number
 * (9999, counted in the last slot) and an ENOSYS answered by a handler that exists (futex with
 * command 99, as Linux's do_futex) — and schedStats names them (`enosysByName`).
 */
import { openSync, closeSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SYSCALL_SLOTS } from '../../kernel/proc/layout.ts';
import { SYS_futex } from '../../kernel/syscalls-table.ts';
import { bootScheduled, schedStats, spawn, wait } from '../../scheduler/api.ts';

const BIN = new URL('../../guests/bin/badsys', import.meta.url).pathname;

describe('ENOSYS accounting', () => {
  it('counts unknown numbers and handlers answering ENOSYS, by number and by name', async () => {
    const m = await bootScheduled({ cpus: 1 });
    const nul = openSync('/dev/null', 'r+');
    try {
      const { pid } = spawn(m, { elf: new Uint8Array(readFileSync(BIN)), argv: ['badsys'], envp: [], stdio: [nul, nul, nul] });
      expect(await wait(m, pid, 60_000)).toBe(0);
      const s = schedStats(m);
      expect(s.enosys[SYS_futex]).toBe(1);
      expect(s.enosys[SYSCALL_SLOTS - 1]).toBe(1);
      expect(s.enosysByName['futex']).toBe(1);
    } finally {
      closeSync(nul);
      await m.shutdown();
    }
  }, 90_000);
});
