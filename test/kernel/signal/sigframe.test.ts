import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as sf from '../../../kernel/signal/sigframe.ts';
import {
  FRAME_UC, NO_ALTSTACK, RT_SIGFRAME_SIZE, SIGRETURN_TRAMPOLINE, buildSignalFrame, decodeSigInfo, encodeSigInfo,
  parseSignalFrame, regsFromPairs, regsToPairs, type SignalDelivery,
} from '../../../kernel/signal/sigframe.ts';
import * as signals from '../../../kernel/signal/signals.ts';
import {
  SA_ONSTACK, SEGV_ACCERR, SIGCHLD, SIGKILL, SIGSEGV, SIGSTOP, SIGUSR1, SS_AUTODISARM, SS_DISABLE, defaultAction, sigBit, signalName,
} from '../../../kernel/signal/signals.ts';

// offsetof/sizeof printed by test/fixtures/gen/linux-abi.c (glibc 2.36 + kernel uapi headers).
const abi = JSON.parse(readFileSync(new URL('../../fixtures/linux-abi.json', import.meta.url), 'utf8')) as Record<string, number>;

describe('rt_sigframe layout vs the C headers', () => {
  it('siginfo_t', () => {
    expect(sf.SIGINFO_SIZE).toBe(abi['sizeof siginfo_t']);
    const pairs: [number, string][] = [[sf.SI_SIGNO, 'si_signo'], [sf.SI_ERRNO, 'si_errno'], [sf.SI_CODE, 'si_code'],
      [sf.SI_PID, 'si_pid'], [sf.SI_UID, 'si_uid'], [sf.SI_STATUS, 'si_status'], [sf.SI_UTIME, 'si_utime'],
      [sf.SI_STIME, 'si_stime'], [sf.SI_VALUE, 'si_value'], [sf.SI_ADDR, 'si_addr'], [sf.SI_TIMERID, 'si_timerid'],
      [sf.SI_OVERRUN, 'si_overrun']];
    for (const [ours, field] of pairs) expect(ours, field).toBe(abi[`siginfo_t.${field}`]);
  });
  it('stack_t, ucontext, sigcontext, FP state', () => {
    expect(sf.STACK_T_SIZE).toBe(abi['sizeof stack_t']);
    expect([sf.SS_SP, sf.SS_FLAGS, sf.SS_SIZE]).toEqual([abi['stack_t.ss_sp'], abi['stack_t.ss_flags'], abi['stack_t.ss_size']]);
    expect(sf.UCONTEXT_SIZE).toBe(abi['sizeof ucontext_t']);
    expect(sf.UC_FLAGS).toBe(abi['ucontext_t.__uc_flags']);
    expect(sf.UC_LINK).toBe(abi['ucontext_t.uc_link']);
    expect(sf.UC_STACK).toBe(abi['ucontext_t.uc_stack']);
    expect(sf.UC_SIGMASK).toBe(abi['ucontext_t.uc_sigmask']);
    expect(sf.UC_SIGMASK_AREA).toBe(abi['sizeof sigset_t']);
    expect(sf.UC_MCONTEXT).toBe(abi['ucontext_t.uc_mcontext']);
    expect(sf.SIGCONTEXT_SIZE).toBe(abi['sizeof mcontext_t']);
    expect(sf.SC_REGS).toBe(abi['mcontext_t.__gregs']);
    expect(sf.SC_FPREGS).toBe(abi['mcontext_t.__fpregs']);
    expect(sf.FP_STATE_SIZE).toBe(abi['sizeof union __riscv_mc_fp_state']);
    expect(sf.FP_STATE_SIZE).toBe(abi['sizeof union __riscv_fp_state']);
    expect(sf.FP_FCSR).toBe(abi['struct __riscv_d_ext_state.fcsr']);
    expect(sf.FP_FCSR).toBe(abi['struct __riscv_mc_d_ext_state.__fcsr']);
    expect(sf.SC_FPREGS).toBe(abi['sizeof struct user_regs_struct']);
    expect([abi['struct user_regs_struct.pc'], abi['struct user_regs_struct.ra'], abi['struct user_regs_struct.sp'],
      abi['struct user_regs_struct.a0'], abi['struct user_regs_struct.t6']]).toEqual([0, 8, 16, 80, 248]);
    expect(sf.frameRegOffset(10) - sf.FRAME_PC).toBe(abi['struct user_regs_struct.a0']);
    expect(RT_SIGFRAME_SIZE).toBe(abi['sizeof siginfo_t'] + abi['sizeof ucontext_t']);
  });
  it('signal numbers, si_codes and flags', () => {
    const exported = signals as unknown as Record<string, unknown>;
    let n = 0;
    for (const [k, v] of Object.entries(exported)) {
      if (typeof v !== 'number' || !(k in abi) || k === 'MINSIGSTKSZ') continue; // glibc's MINSIGSTKSZ is its own
      expect(v, k).toBe(abi[k]);
      n++;
    }
    expect(n).toBeGreaterThanOrEqual(70);
    expect(signals.SIGRTMIN).toBe(abi.__SIGRTMIN);
    expect(signals.SIGRTMAX).toBe(abi.__SIGRTMAX);
  });
});

describe('default actions and names', () => {
  it('follow signal(7)', () => {
    expect(defaultAction(SIGSEGV)).toBe('core');
    expect(defaultAction(signals.SIGBUS)).toBe('core');
    expect(defaultAction(signals.SIGTERM)).toBe('term');
    expect(defaultAction(SIGKILL)).toBe('term');
    expect(defaultAction(SIGCHLD)).toBe('ignore');
    expect(defaultAction(signals.SIGWINCH)).toBe('ignore');
    expect(defaultAction(SIGSTOP)).toBe('stop');
    expect(defaultAction(signals.SIGTTOU)).toBe('stop');
    expect(defaultAction(signals.SIGCONT)).toBe('cont');
    expect(defaultAction(40)).toBe('term');
    expect(() => defaultAction(0)).toThrow(/defaultAction/);
    expect(() => defaultAction(65)).toThrow(/defaultAction/);
    const counts: Record<string, number> = {};
    for (let s = 1; s <= 31; s++) counts[defaultAction(s)] = (counts[defaultAction(s)] ?? 0) + 1;
    expect(counts).toEqual({ term: 13, core: 10, ignore: 3, stop: 4, cont: 1 });
  });
  it('names and bits', () => {
    expect(signalName(11)).toBe('SIGSEGV');
    expect(signalName(35)).toBe('SIGRTMIN+3');
    expect(signalName(0)).toBe('signal 0');
    expect(sigBit(1)).toBe(1n);
    expect(sigBit(64)).toBe(1n << 63n);
  });
});

describe('siginfo encode/decode', () => {
  it('a SIGSEGV with si_addr', () => {
    const b = encodeSigInfo({ signo: SIGSEGV, code: SEGV_ACCERR, addr: 0xdeadbeef000n });
    expect(b.length).toBe(128);
    const d = decodeSigInfo(b);
    expect([d.signo, d.errno, d.code, d.addr]).toEqual([11, 0, 2, 0xdeadbeef000n]);
    expect([...b.subarray(24)].every((x) => x === 0)).toBe(true);
  });
  it('a SIGCHLD with pid, uid, status and times; a negative si_code', () => {
    const d = decodeSigInfo(encodeSigInfo({ signo: SIGCHLD, code: signals.CLD_EXITED, pid: 42, uid: 1000, status: 3, utime: 5n, stime: 6n }));
    expect([d.pid, d.uid, d.status, d.utime, d.stime]).toEqual([42, 1000, 3, 5n, 6n]);
    expect(decodeSigInfo(encodeSigInfo({ signo: SIGUSR1, code: signals.SI_TKILL, pid: 7, uid: 0 })).code).toBe(-6);
  });
  it('refuses overlapping union members', () => {
    expect(() => encodeSigInfo({ signo: 11, code: 1, addr: 1n, pid: 2 })).toThrow(/encodeSigInfo/);
  });
});

/** A context with distinctive register values. */
function context(sp: bigint) {
  const x = Array.from({ length: 32 }, (_, i) => (BigInt(i) << 56n) | 0x1234_5678n | BigInt(i));
  x[0] = 0n;
  x[2] = sp;
  const f = Uint8Array.from({ length: 256 }, (_, i) => (i * 7 + 3) & 0xff);
  return { x, pc: 0x10abcn, f, fcsr: 0xe1 };
}
function delivery(over: Partial<SignalDelivery> = {}): SignalDelivery {
  return {
    context: context(0x7fff_ffff_e008n),
    info: { signo: SIGSEGV, code: signals.SEGV_MAPERR, addr: 0x1000n },
    savedMask: sigBit(SIGUSR1) | sigBit(SIGKILL),
    altStack: NO_ALTSTACK,
    saFlags: 0,
    handler: 0x10500n,
    trampoline: 0x3fff_f000n,
    ...over,
  };
}

describe('buildSignalFrame', () => {
  it('puts the frame 16-aligned below sp and sets the handler registers', () => {
    const fr = buildSignalFrame(delivery())!;
    expect(fr.frameVa).toBe((0x7fff_ffff_e008n - 1088n) & ~15n);
    expect(fr.frameVa % 16n).toBe(0n);
    expect(fr.bytes.length).toBe(1088);
    expect(fr.regs).toEqual({ pc: 0x10500n, sp: fr.frameVa, ra: 0x3fff_f000n, a0: 11n, a1: fr.frameVa, a2: fr.frameVa + 128n });
    expect(fr.infoVa).toBe(fr.frameVa);
    expect(fr.ucVa).toBe(fr.frameVa + BigInt(FRAME_UC));
    expect(fr.disarmAltStack).toBe(false);
    const dv = new DataView(fr.bytes.buffer);
    expect(dv.getBigUint64(sf.FRAME_PC, true)).toBe(0x10abcn);
    expect(dv.getBigUint64(sf.frameRegOffset(2), true)).toBe(0x7fff_ffff_e008n);
    expect(dv.getInt32(FRAME_UC + sf.UC_STACK + sf.SS_FLAGS, true)).toBe(SS_DISABLE);
    expect(decodeSigInfo(fr.bytes).addr).toBe(0x1000n);
  });
  it('round-trips through parseSignalFrame: registers, pc, FP, fcsr, mask minus SIGKILL', () => {
    const d = delivery();
    const back = parseSignalFrame(buildSignalFrame(d)!.bytes)!;
    expect(back.x).toEqual(d.context.x);
    expect(back.pc).toBe(0x10abcn);
    expect([...back.f]).toEqual([...d.context.f!]);
    expect(back.fcsr).toBe(0xe1);
    expect(back.mask).toBe(sigBit(SIGUSR1));
    expect(back.altStack).toEqual(NO_ALTSTACK);
  });
  it('accepts the hart\'s Int32Array lo/hi registers and negative bigints', () => {
    const ctx = context(0x7fff_0000_0000n);
    ctx.x[5] = -1n;
    const pairs = regsToPairs(ctx.x);
    const fromPairs = parseSignalFrame(buildSignalFrame(delivery({ context: { x: pairs, pc: 4n } }))!.bytes)!;
    const fromBig = parseSignalFrame(buildSignalFrame(delivery({ context: { x: ctx.x, pc: 4n } }))!.bytes)!;
    expect(fromPairs.x).toEqual(fromBig.x);
    expect(fromPairs.x[5]).toBe(0xffff_ffff_ffff_ffffn);
    expect(regsFromPairs(regsToPairs(fromPairs.x))).toEqual(fromPairs.x);
    expect(fromPairs.fcsr).toBe(0);
  });
  it('switches to the altstack with SA_ONSTACK, and not without it', () => {
    const alt = { sp: 0x5000_0000n, size: 0x4000n, flags: 0 };
    const on = buildSignalFrame(delivery({ altStack: alt, saFlags: SA_ONSTACK }))!;
    expect(on.frameVa).toBe((0x5000_4000n - 1088n) & ~15n);
    const saved = parseSignalFrame(on.bytes)!.altStack;
    expect(saved).toEqual(alt);
    const off = buildSignalFrame(delivery({ altStack: alt }))!;
    expect(off.frameVa).toBe((0x7fff_ffff_e008n - 1088n) & ~15n);
  });
  it('stays on the altstack when already on it; refuses to overflow it', () => {
    const alt = { sp: 0x5000_0000n, size: 0x4000n, flags: 0 };
    const nested = buildSignalFrame(delivery({ context: context(0x5000_3000n), altStack: alt, saFlags: SA_ONSTACK }))!;
    expect(nested.frameVa).toBe((0x5000_3000n - 1088n) & ~15n);
    expect(buildSignalFrame(delivery({ context: context(0x5000_0100n), altStack: alt, saFlags: SA_ONSTACK }))).toBeNull();
  });
  it('SS_AUTODISARM: uses the altstack, saves its flags and asks the caller to disarm', () => {
    const alt = { sp: 0x5000_0000n, size: 0x4000n, flags: SS_AUTODISARM };
    const fr = buildSignalFrame(delivery({ altStack: alt, saFlags: SA_ONSTACK }))!;
    expect(fr.frameVa).toBe((0x5000_4000n - 1088n) & ~15n);
    expect(fr.disarmAltStack).toBe(true);
    expect(parseSignalFrame(fr.bytes)!.altStack.flags).toBe(SS_AUTODISARM);
  });
  it('a frame with non-zero reserved FP words is bad (Linux: SIGSEGV)', () => {
    const fr = buildSignalFrame(delivery())!;
    const bad = fr.bytes.slice();
    bad[FRAME_UC + sf.UC_MCONTEXT + sf.SC_FPREGS + sf.FP_Q_RESERVED + 4] = 1;
    expect(parseSignalFrame(bad)).toBeNull();
    expect(() => parseSignalFrame(fr.bytes.subarray(0, 100))).toThrow(/parseSignalFrame/);
  });
  it('the sigreturn mask never blocks SIGKILL or SIGSTOP', () => {
    const fr = buildSignalFrame(delivery({ savedMask: -1n }))!;
    expect(parseSignalFrame(fr.bytes)!.mask).toBe(((1n << 64n) - 1n) & ~(sigBit(SIGKILL) | sigBit(SIGSTOP)));
  });
});

describe('sigreturn trampoline', () => {
  it('encodes li a7, 139; ecall', () => {
    const dv = new DataView(SIGRETURN_TRAMPOLINE.buffer);
    const addi = dv.getUint32(0, true);
    expect(addi & 0x7f).toBe(0x13); // OP-IMM
    expect((addi >> 7) & 31).toBe(17); // rd = a7
    expect((addi >> 15) & 31).toBe(0); // rs1 = zero
    expect(addi >> 20).toBe(139); // SYS_rt_sigreturn
    expect(dv.getUint32(4, true)).toBe(0x73); // ecall
  });
});

describe('buildSignalFrame vs a real handler under qemu-riscv64 (test/fixtures/gen/sigframe.sh)', () => {
  interface Seen { signo: number; code: number; uc_minus_info: number; info_mod_16: number; info_from_alt_top: number;
    ss_flags: number; ss_size: number; mask_usr2: number; saved_sp_minus_info: number }
  const seen = JSON.parse(readFileSync(new URL('../../fixtures/sigframe-qemu.json', import.meta.url), 'utf8')) as Seen[];
  const alt = { sp: 0x4_0000n, size: 16384n, flags: 0 };
  const onAlt = buildSignalFrame(delivery({ altStack: alt, saFlags: SA_ONSTACK, info: { signo: SIGUSR1, code: signals.SI_TKILL, pid: 1, uid: 0 } }))!;
  const back = parseSignalFrame(onAlt.bytes)!;
  it('a2 - a1 is 128, the frame is 16-aligned, uc_stack holds the altstack as set', () => {
    for (const s of seen) {
      expect(s.uc_minus_info).toBe(Number(onAlt.regs.a2 - onAlt.regs.a1));
      expect(s.info_mod_16).toBe(0);
      expect(s.ss_flags).toBe(back.altStack.flags);
      expect(BigInt(s.ss_size)).toBe(back.altStack.size);
      expect(s.mask_usr2).toBe(1);
      expect(s.code).toBe(signals.SI_TKILL);
    }
  });
  it('SA_ONSTACK puts the frame at the altstack top; without it, just below the interrupted sp', () => {
    expect(seen[0].signo).toBe(SIGUSR1);
    expect(Number(alt.sp + alt.size - onAlt.frameVa)).toBe(RT_SIGFRAME_SIZE);
    // qemu's frame is 832 bytes: its FP union lacks the q-extension half (264 bytes) that
    // Linux's union __riscv_fp_state has (528, checked against the uapi header above).
    // Where qemu-user and Linux differ, Linux is right.
    expect(seen[0].info_from_alt_top).toBe(Math.ceil((RT_SIGFRAME_SIZE - (sf.FP_STATE_SIZE - 264)) / 16) * 16);
    expect(seen[1].signo).toBe(signals.SIGURG);
    expect(seen[1].saved_sp_minus_info).toBe(seen[0].info_from_alt_top); // same frame size below sp
  });
});
