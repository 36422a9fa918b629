/**
 * The TypeScript API in one file (docs/api.md walks through it): boot a 2-hart machine, run a
 * bundled guest ELF and an assembled two-thread litmus program, wait for both, read the
 * statistics, shut down. Run it with:  npx tsx docs/examples/api-example.ts
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { assemble } from '../../cpu/asm/assembler.ts';
import { bootScheduled, leakedFrames, schedStats, spawn, wait } from '../../scheduler/api.ts';

/** Two threads each add 1 to a shared counter N times with amoadd.d; the second to finish checks 2N. */
export const LITMUS = (n: number): string => `
    .text
_start: la    s0, counter
        li    t0, ${n}
        li    t1, 1
1:      amoadd.d zero, t1, (s0)
        addi  t0, t0, -1
        bnez  t0, 1b
        la    s1, done
        amoadd.d.aqrl t2, t1, (s1)   # t2 = threads finished before this one
        beqz  t2, first
        ld    a0, 0(s0)
        li    t3, ${2 * n}
        sub   a0, a0, t3
        snez  a0, a0                 # exit status 0 when no increment was lost
        li    a7, 94                 # exit_group
        ecall
first:  li    a0, 0
        li    a7, 93                 # exit: this thread only
        ecall
    .data
counter: .dword 0
done:    .dword 0
`;

/** Run the example; resolves with what it printed, line by line. */
export async function apiExample(): Promise<string[]> {
  const out: string[] = [];
  const m = await bootScheduled({ cpus: 2, memory: 64 * 2 ** 20 });
  try {
    const elf = readFileSync(new URL('../../guests/bin/compute', import.meta.url));
    const guest = spawn(m, { elf: new Uint8Array(elf), argv: ['compute', '100000'] });
    const litmus = spawn(m, { image: { asm: assemble(LITMUS(10_000)) }, threads: [{ entry: '_start' }] });
    out.push(`compute exited with ${await wait(m, guest.pid)}`);
    out.push(`litmus exited with ${await wait(m, litmus.pid)}`);
    const s = schedStats(m);
    out.push(`syscalls ${s.total.syscalls}, page faults ${s.total.faults}, context switches ${s.total['switch.newAsid']! + s.total['switch.none']! + s.total['switch.range']! + s.total['switch.full']!}`);
    out.push(`frames: ${s.frames.free} of ${s.frames.total} free, ${leakedFrames(m)} leaked`);
  } finally {
    await m.shutdown();
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const line of await apiExample()) console.log(line);
}
