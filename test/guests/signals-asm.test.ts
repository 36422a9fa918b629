/**
 * Signal delivery end to end with small assembled guests (cpu/asm) on a 2-hart machine:
 * a handler that returns normally through the sigreturn trampoline (callee-saved registers
 * and the interrupted syscall's result restored, siginfo right), SA_RESETHAND, SIGILL from an
 * illegal instruction with si_addr = pc and a handler that skips it via the ucontext, the
 * default actions (132 SIGILL, 133 SIGTRAP), a blocked synchronous signal forced to its
 * default (Linux force_sig), a bad rt_sigreturn frame (SIGSEGV), a handler on a stack that
 * cannot hold the frame (SIGSEGV), and tgkill across threads. Exit codes name the failed check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../cpu/asm/assembler.ts';
import { bootScheduled, leakedFrames, spawn, wait } from '../../scheduler/api.ts';
import type { Machine } from '../../scheduler/machine.ts';

const TEXT = 0x10000;
const DATA = 0x200000;

/** rt_sigaction(sig, &act{handler, flags, mask 0}, NULL, 8) with the action built at `act`; clobbers t0, t1, a0-a3, a7. */
const sigaction = (sig: number, handler: string, flags: number): string => `
  la t0, act
  la t1, ${handler}
  sd t1, 0(t0)
  li t1, ${flags}
  sd t1, 8(t0)
  sd zero, 16(t0)
  li a0, ${sig}
  mv a1, t0
  li a2, 0
  li a3, 8
  li a7, 134
  ecall
  bnez a0, fail_sigaction
`;
const exit = (code: number | string): string => `
  li a0, ${code}
  li a7, 94
  ecall
`;
const TAIL = `
fail_sigaction:
${exit(90)}
  .data
act:
  .dword 0, 0, 0
seen:
  .dword 0, 0, 0, 0
count:
  .dword 0
`;

/** kill(getpid(), SIGUSR1) to a handler that returns (SA_SIGINFO | SA_RESETHAND); then the action reads back as SIG_DFL. */
const handlerReturns = assemble(`
_start:
${sigaction(10, 'handler', 0x80000004)}
  li s1, 0x1234
  li a7, 172
  ecall
  mv s2, a0             # pid
  li a1, 10
  li a7, 129
  ecall                 # kill(pid, SIGUSR1): the handler runs before kill returns
  bnez a0, bad1           # kill's own result (0) survives the handler and sigreturn
  la t0, count
  ld t1, 0(t0)
  li t2, 1
  bne t1, t2, bad2
  li t2, 0x1234
  bne s1, t2, bad3        # the handler clobbered s1; sigreturn restored it
  la t0, seen
  ld t1, 0(t0)
  li t2, 10
  bne t1, t2, bad4        # a0 = signo
  ld t1, 8(t0)
  bnez t1, bad5           # si_code SI_USER
  ld t1, 16(t0)
  bne t1, s2, bad6        # si_pid
  ld t1, 24(t0)
  li t2, 0x3ff8000000
  bne t1, t2, bad7        # ra = the trampoline page
  li a0, 10
  li a1, 0
  la a2, act
  li a3, 8
  li a7, 134
  ecall                 # rt_sigaction(SIGUSR1, NULL, &old)
  bnez a0, bad8
  la t0, act
  ld t1, 0(t0)
  bnez t1, bad8         # SA_RESETHAND: the handler is SIG_DFL again
${exit(0)}
bad8:
${exit(8)}
bad1:
${exit(1)}
bad2:
${exit(2)}
bad3:
${exit(3)}
bad4:
${exit(4)}
bad5:
${exit(5)}
bad6:
${exit(6)}
bad7:
${exit(7)}
handler:
  la t0, count
  ld t1, 0(t0)
  addi t1, t1, 1
  sd t1, 0(t0)
  la t0, seen
  sd a0, 0(t0)
  lw t1, 8(a1)
  sd t1, 8(t0)
  lw t1, 16(a1)
  sd t1, 16(t0)
  sd ra, 24(t0)
  li s1, 0x9999
  ret
${TAIL}`, { textBase: TEXT, dataBase: DATA });

/** An illegal instruction with a SIGILL handler that checks si_addr and skips it through uc_mcontext.pc. */
const sigillSkipped = assemble(`
_start:
${sigaction(4, 'handler', 4)}
bad:
  .word 0
  la t0, seen
  ld t1, 0(t0)
  la t2, bad
  bne t1, t2, bad1        # si_addr = the pc of the illegal instruction
  ld t1, 8(t0)
  li t2, 1
  bne t1, t2, bad2        # si_code ILL_ILLOPC
${exit(0)}
bad1:
${exit(1)}
bad2:
${exit(2)}
handler:
  ld t0, 16(a1)
  la t1, seen
  sd t0, 0(t1)
  lw t0, 8(a1)
  sd t0, 8(t1)
  ld t0, 176(a2)        # uc_mcontext.__gregs[REG_PC]
  addi t0, t0, 4
  sd t0, 176(a2)
  ret
${TAIL}`, { textBase: TEXT, dataBase: DATA });

/** No handler: an illegal instruction (132) or ebreak (133). */
const defaultTrap = (insn: string): ReturnType<typeof assemble> => assemble(`
_start:
  ${insn}
${exit(0)}
`, { textBase: TEXT });

/** SIGILL blocked with a handler installed: the fault is forced to the default action (132). */
const sigillBlocked = assemble(`
_start:
${sigaction(4, 'handler', 4)}
  la t0, seen
  li t1, 8              # bit of SIGILL (4)
  sd t1, 0(t0)
  li a0, 0              # SIG_BLOCK
  mv a1, t0
  li a2, 0
  li a3, 8
  li a7, 135
  ecall
  bnez a0, bad1
  .word 0
${exit(0)}
bad1:
${exit(1)}
handler:
${exit(77)}
${TAIL}`, { textBase: TEXT, dataBase: DATA });

/** rt_sigreturn with sp pointing at a frame whose reserved FP words are not zero: SIGSEGV (139). */
const badSigreturn = assemble(`
_start:
  la sp, frame
  li t0, -1
  sw t0, ${128 + 176 + 256 + 516}(sp)  # fpregs.q.reserved[0] != 0: a bad frame
  li a7, 139
  ecall
${exit(0)}
  .data
frame:
  .space 1200
`, { textBase: TEXT, dataBase: DATA });

/** A SIGUSR1 handler and a stack pointer into unmapped memory: the frame cannot be written → SIGSEGV (139). */
const badStack = assemble(`
_start:
${sigaction(10, 'handler', 4)}
  li a7, 172
  ecall
  li sp, 0x100          # nothing mapped below
  li a1, 10
  li a7, 129
  ecall
${exit(0)}
handler:
${exit(77)}
${TAIL}`, { textBase: TEXT, dataBase: DATA });

/**
 * Two threads: the main thread installs a SIGUSR2 handler, publishes its tid and spins on a
 * flag; the second thread tgkill()s it; the handler sets the flag. Exit 0 from the main thread.
 */
const crossThread = assemble(`
_start:
${sigaction(12, 'handler', 4)}
  li a7, 178
  ecall                 # gettid
  la t0, seen
  sd a0, 8(t0)          # publish our tid
  li t1, 1
  sd t1, 16(t0)         # ready
  li s1, 50000000
spin:
  ld t1, 0(t0)
  bnez t1, done
  addi s1, s1, -1
  bnez s1, spin
${exit(1)}
done:
${exit(0)}
sender:
  la t0, seen
wait_ready:
  ld t1, 16(t0)
  beqz t1, wait_ready
  li a7, 172
  ecall                 # getpid (tgid)
  ld a1, 8(t0)
  li a2, 12
  li a7, 131
  ecall                 # tgkill(pid, main tid, SIGUSR2)
  bnez a0, sender_fail
  li a0, 0
  li a7, 93
  ecall                 # this thread exits
sender_fail:
${exit(2)}
handler:
  la t0, seen
  li t1, 1
  sd t1, 0(t0)
  ret
${TAIL}`, { textBase: TEXT, dataBase: DATA });

describe('signals in assembled guests (2 harts)', () => {
  let m: Machine;
  beforeAll(async () => { m = await bootScheduled({ cpus: 2, memory: 64 * 2 ** 20 }); });
  afterAll(async () => { await m?.shutdown(); });

  const run = async (image: ReturnType<typeof assemble>, threads?: { entry: string }[]): Promise<number> => {
    const { pid } = spawn(m, { image: { asm: image }, threads });
    return wait(m, pid, 20_000);
  };

  it('a handler returns through the trampoline; registers and kill()\'s result restored; SA_RESETHAND', async () => {
    expect(await run(handlerReturns)).toBe(0);
  });
  it('the default action of SIGUSR1 terminates (138)', async () => {
    expect(await run(assemble(`
_start:
  li a7, 172
  ecall
  li a1, 10
  li a7, 129
  ecall
${exit(0)}
`, { textBase: TEXT }))).toBe(128 + 10);
  });
  it('SIGILL: si_addr = pc, ILL_ILLOPC; the handler skips the instruction via uc_mcontext', async () => {
    expect(await run(sigillSkipped)).toBe(0);
  });
  it('default actions: illegal instruction 132, ebreak 133', async () => {
    expect(await run(defaultTrap('.word 0'))).toBe(128 + 4);
    expect(await run(defaultTrap('ebreak'))).toBe(128 + 5);
  });
  it('a blocked synchronous signal is forced to its default action', async () => {
    expect(await run(sigillBlocked)).toBe(128 + 4);
  });
  it('a bad rt_sigreturn frame and an unwritable signal stack end in SIGSEGV', async () => {
    expect(await run(badSigreturn)).toBe(128 + 11);
    expect(await run(badStack)).toBe(128 + 11);
  });
  it('tgkill reaches a thread running on another hart', async () => {
    expect(await run(crossThread, [{ entry: 'sender' }])).toBe(0);
  });
  it('no frame leaked', () => {
    expect(leakedFrames(m)).toBe(0);
  });
});
