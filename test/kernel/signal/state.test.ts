/**
 * The signal layer on the main thread (no workers): shared records (claiming, action table,
 * masks, pending sets), generation rules (ignored, not queued twice, forced), the choice of
 * the next signal, delivery into a real address space with the rt_sigframe round trip through
 * rt_sigreturn, default actions, fork/exec inheritance, and the syscalls' errno cases.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { P_PID, P_STATE, PS_LIVE, T_PROC, T_STATE, T_TID, TS_RUNNING } from '../../../kernel/proc/layout.ts';
import { RT_SIGFRAME_SIZE, decodeSigInfo, parseSignalFrame, SIGRETURN_TRAMPOLINE } from '../../../kernel/signal/sigframe.ts';
import { pickSignal, signalsBeforeRun, mapSignalTrampoline } from '../../../kernel/signal/deliver.ts';
import { SIGTRAMP_VA } from '../../../kernel/signal/layout.ts';
import { bindSignalHost, forceSignal, queueSignal, signalState, type SignalHost, type UserHart } from '../../../kernel/signal/send.ts';
import { procField, threadField, type SignalState } from '../../../kernel/signal/state.ts';
import {
  SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_SIGINFO, SEGV_MAPERR, SI_USER, SIG_DFL, SIG_IGN, SIGCHLD, SIGILL, SIGKILL,
  SIGSEGV, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2, SS_DISABLE, sigBit,
} from '../../../kernel/signal/signals.ts';
import '../../../kernel/signal/sys-signal.ts';
import { KSA_FLAGS, KSA_HANDLER, KSA_MASK, KSIGACTION_BYTES, SYS_rt_sigaction } from '../../../kernel/signal/sys-signal.ts';
import { NO_RETURN, syscallHandler, type SyscallEnv } from '../../../kernel/syscall.ts';
import { copyFromUser, copyToUser } from '../../../kernel/mm/uaccess.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../kernel/mm/abi.ts';
import { mmap } from '../../../kernel/mm/mmap.ts';
import type { VirtualAddressSpace } from '../../../kernel/mm/aspace.ts';
import { bootTestVm, type Vm } from '../mm/harness.ts';

const abi = JSON.parse(readFileSync(new URL('../../fixtures/sigaction-abi.json', import.meta.url), 'utf8')) as Record<string, number | null>;

const P = 3; // process slot
const PID = 500;
const TIX = 7; // thread slot
const TID = 500;
const STACK_TOP = 0x7000_0000;

let vm: Vm;
let st: SignalState;
let as: VirtualAddressSpace;
let hart: UserHart & { fcsr: number };
let killed: number[];

function setReg(i: number, v: bigint): void {
  hart.x[2 * i] = Number(BigInt.asIntN(32, v));
  hart.x[2 * i + 1] = Number(BigInt.asIntN(32, v >> 32n));
}
function getReg(i: number): bigint {
  return BigInt.asIntN(64, (BigInt(hart.x[2 * i + 1]!) << 32n) | BigInt(hart.x[2 * i]! >>> 0));
}

const host = (): SignalHost => ({
  kctx: vm.ctx, hart, current: TIX,
  exitGroup: (_code, sig) => { killed.push(sig); },
  interrupt: () => false,
  kick: () => {},
});

const env = (): SyscallEnv => ({
  kctx: vm.ctx, as, tid: TID, pid: PID,
  sched: {
    exitThread: () => NO_RETURN, exitGroup: () => NO_RETURN, yieldAfter: () => {}, block: () => -11, wake: () => 0, requeue: () => 0,
    hostWrite: () => {},
  },
  getReg, setReg: (i, v) => { if (i) setReg(i, v); },
  get pc() { return hart.pc; },
  set pc(v: number) { hart.pc = v; },
});

function call(nr: number, ...args: bigint[]): number | bigint | typeof NO_RETURN {
  while (args.length < 6) args.push(0n);
  return syscallHandler(nr)!(env(), args);
}

beforeEach(() => {
  vm = bootTestVm(16);
  const ctl = vm.ctl;
  ctl.i32[procField(ctl, P, P_PID)] = PID;
  Atomics.store(ctl.i32, procField(ctl, P, P_STATE), PS_LIVE);
  ctl.i32[threadField(ctl, TIX, T_TID)] = TID;
  ctl.i32[threadField(ctl, TIX, T_PROC)] = P;
  Atomics.store(ctl.i32, threadField(ctl, TIX, T_STATE), TS_RUNNING);
  st = signalState(vm.ctx);
  as = vm.newSpace();
  expect(mmap(vm.ctx, as, STACK_TOP - 65536, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)).toBe(STACK_TOP - 65536);
  const fi32 = new Int32Array(64);
  hart = { x: new Int32Array(64), pc: 0x10000, fcsr: 0, fpu: { fi32, readFcsr: () => hart.fcsr, writeFcsr: (v) => { hart.fcsr = v; } } };
  killed = [];
  bindSignalHost(host());
});

describe('kernel struct sigaction (riscv64) vs the C headers', () => {
  it('24 bytes: handler, flags, mask; no sa_restorer', () => {
    expect(KSIGACTION_BYTES).toBe(abi['sizeof struct sigaction']);
    expect([KSA_HANDLER, KSA_FLAGS, KSA_MASK]).toEqual([abi['sigaction.sa_handler'], abi['sigaction.sa_flags'], abi['sigaction.sa_mask']]);
    expect(abi['SA_RESTORER']).toBeNull();
    expect(abi['sizeof sigset_t']).toBe(8);
  });
});

describe('shared signal records', () => {
  it('a stale record is reset when a new owner claims it', () => {
    const ctl = vm.ctl;
    ctl.i32.fill(-1, st.pw(P, 1), st.pw(P, 1) + 1000); // leftovers of an older process
    ctl.i32.fill(-1, st.tw(TIX, 0), st.tw(TIX, 0) + 500);
    st.withProc(P, () => {
      st.claimThread(TIX);
      expect(st.action(P, SIGUSR1)).toEqual({ handler: SIG_DFL, flags: 0, mask: 0n });
      expect(st.procPending(P)).toBe(0n);
      expect(st.threadPending(TIX)).toBe(0n);
      expect(st.blocked(TIX)).toBe(0n);
      expect(st.altStack(TIX)).toEqual({ sp: 0n, size: 0n, flags: SS_DISABLE });
    });
  });

  it('actions round-trip; masks never hold SIGKILL or SIGSTOP', () => {
    st.withProc(P, () => {
      st.claimThread(TIX);
      st.setAction(P, SIGUSR1, { handler: 0x12345678n, flags: SA_SIGINFO | SA_RESETHAND, mask: sigBit(SIGKILL) | sigBit(SIGUSR2) });
      expect(st.action(P, SIGUSR1)).toEqual({ handler: 0x12345678n, flags: (SA_SIGINFO | SA_RESETHAND) >>> 0, mask: sigBit(SIGUSR2) });
      st.setBlocked(TIX, (1n << 64n) - 1n);
      expect(st.blocked(TIX)).toBe(((1n << 64n) - 1n) & ~(sigBit(SIGKILL) | sigBit(SIGSTOP)));
    });
  });

  it('a standard signal is not queued twice; its first siginfo stays', () => {
    queueSignal(vm.ctx, P, TIX, SIGUSR1, { signo: SIGUSR1, code: SI_USER, pid: 1, uid: 0 });
    queueSignal(vm.ctx, P, TIX, SIGUSR1, { signo: SIGUSR1, code: SI_USER, pid: 2, uid: 0 });
    const info = st.withProc(P, () => st.takePending(P, TIX, SIGUSR1));
    expect(info?.pid).toBe(1);
    expect(st.withProc(P, () => st.takePending(P, TIX, SIGUSR1))).toBeNull();
  });

  it('ignored signals are dropped at generation, unless blocked', () => {
    queueSignal(vm.ctx, P, -1, SIGCHLD, { signo: SIGCHLD, code: 1 }); // default: ignore
    st.withProc(P, () => st.setAction(P, SIGUSR2, { handler: SIG_IGN, flags: 0, mask: 0n }));
    queueSignal(vm.ctx, P, TIX, SIGUSR2, { signo: SIGUSR2, code: 0 });
    expect(st.withProc(P, () => st.procPending(P) | st.threadPending(TIX))).toBe(0n);
    st.withProc(P, () => { st.claimThread(TIX); st.setBlocked(TIX, sigBit(SIGCHLD)); });
    queueSignal(vm.ctx, P, -1, SIGCHLD, { signo: SIGCHLD, code: 1 });
    expect(st.withProc(P, () => st.procPending(P))).toBe(sigBit(SIGCHLD));
  });

  it('a forced (synchronous) signal that is blocked or ignored is unblocked and reset to SIG_DFL', () => {
    st.withProc(P, () => {
      st.claimThread(TIX);
      st.setAction(P, SIGSEGV, { handler: 0x4000n, flags: SA_SIGINFO, mask: 0n });
      st.setBlocked(TIX, sigBit(SIGSEGV) | sigBit(SIGUSR1));
    });
    forceSignal(vm.ctx, TIX, { signo: SIGSEGV, code: SEGV_MAPERR, addr: 0x10n });
    st.withProc(P, () => {
      expect(st.action(P, SIGSEGV).handler).toBe(SIG_DFL);
      expect(st.blocked(TIX)).toBe(sigBit(SIGUSR1));
      expect(st.threadPending(TIX)).toBe(sigBit(SIGSEGV));
    });
    expect(signalsBeforeRun(host(), TIX, as)).toBe(false);
    expect(killed).toEqual([SIGSEGV]);
  });

  it('the next signal: synchronous ones first, then the lowest number', () => {
    expect(pickSignal(sigBit(SIGTERM) | sigBit(SIGUSR1))).toBe(SIGUSR1);
    expect(pickSignal(sigBit(SIGUSR1) | sigBit(SIGSEGV) | sigBit(SIGILL))).toBe(SIGILL);
    expect(pickSignal(sigBit(64))).toBe(64);
  });
});

describe('delivery into a real address space', () => {
  const HANDLER = 0x20000n;

  function prime(): bigint[] {
    const regs: bigint[] = [0n];
    for (let i = 1; i < 32; i++) regs.push(BigInt(i) * 0x0101_0101_0101n - 7n);
    regs[2] = BigInt(STACK_TOP - 256);
    regs.forEach((v, i) => setReg(i, v));
    for (let i = 0; i < 64; i++) hart.fpu.fi32[i] = i * 0x1111 - 5;
    hart.fcsr = 0x41;
    hart.pc = 0x10abc;
    return regs.map((v) => BigInt.asUintN(64, v));
  }

  it('builds the frame, enters the handler, and rt_sigreturn restores every register, the FP state and the mask', () => {
    const before = prime();
    st.withProc(P, () => {
      st.claimThread(TIX);
      st.setAction(P, SIGUSR1, { handler: HANDLER, flags: SA_SIGINFO, mask: sigBit(SIGUSR2) });
      st.setBlocked(TIX, sigBit(SIGTERM));
    });
    queueSignal(vm.ctx, P, -1, SIGUSR1, { signo: SIGUSR1, code: SI_USER, pid: 42, uid: 0 }, TIX);
    expect(signalsBeforeRun(host(), TIX, as)).toBe(true);
    expect(BigInt(hart.pc)).toBe(HANDLER);
    const sp = BigInt.asUintN(64, getReg(2));
    expect(sp % 16n).toBe(0n);
    expect(sp + BigInt(RT_SIGFRAME_SIZE)).toBeLessThanOrEqual(before[2]!);
    expect(getReg(10)).toBe(BigInt(SIGUSR1));
    expect(getReg(11)).toBe(BigInt(sp));
    expect(getReg(12)).toBe(BigInt(sp) + 128n);
    expect(getReg(1)).toBe(BigInt(SIGTRAMP_VA));
    expect(copyFromUser(vm.ctx, as, SIGTRAMP_VA, 8)).toEqual(SIGRETURN_TRAMPOLINE);
    expect(st.withProc(P, () => st.blocked(TIX))).toBe(sigBit(SIGTERM) | sigBit(SIGUSR2) | sigBit(SIGUSR1));

    const bytes = copyFromUser(vm.ctx, as, Number(sp), RT_SIGFRAME_SIZE) as Uint8Array;
    const info = decodeSigInfo(bytes);
    expect([info.signo, info.code, info.pid]).toEqual([SIGUSR1, SI_USER, 42]);
    const saved = parseSignalFrame(bytes)!;
    expect(saved.pc).toBe(0x10abcn);
    expect(saved.x.slice(1)).toEqual(before.slice(1));
    expect(saved.mask).toBe(sigBit(SIGTERM));
    expect(saved.fcsr).toBe(0x41);

    // The handler scribbles; rt_sigreturn (a7 = 139 with sp at the frame) puts everything back.
    for (let i = 3; i < 32; i++) setReg(i, 0xdeadn);
    hart.fpu.fi32.fill(0);
    hart.fcsr = 0;
    expect(call(139)).toBe(NO_RETURN);
    expect(hart.pc).toBe(0x10abc);
    for (let i = 1; i < 32; i++) expect(BigInt.asUintN(64, getReg(i)), `x${i}`).toBe(before[i]);
    expect(hart.fpu.fi32[5]).toBe(5 * 0x1111 - 5);
    expect(hart.fcsr).toBe(0x41);
    expect(st.withProc(P, () => st.blocked(TIX))).toBe(sigBit(SIGTERM));
  });

  it('SA_NODEFER leaves the signal unblocked; SA_ONSTACK uses the altstack; SA_RESETHAND resets', () => {
    prime();
    const ALT = BigInt(STACK_TOP - 32768);
    st.withProc(P, () => {
      st.claimThread(TIX);
      st.setAction(P, SIGUSR2, { handler: HANDLER, flags: SA_NODEFER | SA_ONSTACK | SA_RESETHAND, mask: 0n });
      st.setAltStack(TIX, { sp: ALT, size: 8192n, flags: 0 });
    });
    queueSignal(vm.ctx, P, TIX, SIGUSR2, { signo: SIGUSR2, code: SI_USER, pid: 1, uid: 0 });
    expect(signalsBeforeRun(host(), TIX, as)).toBe(true);
    const sp = BigInt.asUintN(64, getReg(2));
    expect(sp >= ALT && sp < ALT + 8192n).toBe(true);
    st.withProc(P, () => {
      expect(st.blocked(TIX)).toBe(0n);
      expect(st.action(P, SIGUSR2).handler).toBe(SIG_DFL);
    });
  });

  it('default actions: terminate kills the process; ignore drops; a blocked one waits', () => {
    prime();
    st.withProc(P, () => { st.claimThread(TIX); st.setBlocked(TIX, sigBit(SIGTERM)); });
    queueSignal(vm.ctx, P, -1, SIGTERM, { signo: SIGTERM, code: SI_USER, pid: 1, uid: 0 });
    expect(signalsBeforeRun(host(), TIX, as)).toBe(true);
    expect(killed).toEqual([]);
    st.withProc(P, () => st.setBlocked(TIX, 0n));
    expect(signalsBeforeRun(host(), TIX, as)).toBe(false);
    expect(killed).toEqual([SIGTERM]);
  });

  it('a frame that cannot be written forces SIGSEGV, and the SIGSEGV handler is not retried', () => {
    prime();
    setReg(2, 0x1000n); // nothing mapped there
    st.withProc(P, () => {
      st.claimThread(TIX);
      st.setAction(P, SIGSEGV, { handler: HANDLER, flags: SA_SIGINFO, mask: 0n });
    });
    forceSignal(vm.ctx, TIX, { signo: SIGSEGV, code: SEGV_MAPERR, addr: 8n });
    expect(signalsBeforeRun(host(), TIX, as)).toBe(false);
    expect(killed).toEqual([SIGSEGV]);
  });

  it('mapSignalTrampoline leaves an existing mapping alone', () => {
    expect(mapSignalTrampoline(vm.ctx, as)).toBe(0);
    expect(mapSignalTrampoline(vm.ctx, as)).toBe(0);
    expect(copyFromUser(vm.ctx, as, SIGTRAMP_VA, 8)).toEqual(SIGRETURN_TRAMPOLINE);
  });
});

describe('syscall errors and masks', () => {
  const BUF = BigInt(STACK_TOP - 4096);

  it('rt_sigaction: EINVAL for SIGKILL/SIGSTOP, bad numbers and sigsetsize; EFAULT; old action read back', () => {
    const act = new Uint8Array(24);
    new DataView(act.buffer).setBigUint64(0, 0x5000n, true);
    new DataView(act.buffer).setBigUint64(8, BigInt(SA_SIGINFO), true);
    new DataView(act.buffer).setBigUint64(16, sigBit(SIGUSR2) | sigBit(SIGKILL), true);
    expect(copyToUser(vm.ctx, as, Number(BUF), act)).toBe(0);
    expect(call(SYS_rt_sigaction, BigInt(SIGKILL), BUF, 0n, 8n)).toBe(-22);
    expect(call(SYS_rt_sigaction, BigInt(SIGSTOP), BUF, 0n, 8n)).toBe(-22);
    expect(call(SYS_rt_sigaction, 0n, BUF, 0n, 8n)).toBe(-22);
    expect(call(SYS_rt_sigaction, 65n, BUF, 0n, 8n)).toBe(-22);
    expect(call(SYS_rt_sigaction, BigInt(SIGUSR1), BUF, 0n, 16n)).toBe(-22);
    expect(call(SYS_rt_sigaction, BigInt(SIGUSR1), 0x10n, 0n, 8n)).toBe(-14);
    expect(call(SYS_rt_sigaction, BigInt(SIGKILL), 0n, BUF + 64n, 8n)).toBe(0); // reading SIGKILL's action is fine
    expect(call(SYS_rt_sigaction, BigInt(SIGUSR1), BUF, 0n, 8n)).toBe(0);
    expect(call(SYS_rt_sigaction, BigInt(SIGUSR1), 0n, BUF + 64n, 8n)).toBe(0);
    const old = new DataView((copyFromUser(vm.ctx, as, Number(BUF) + 64, 24) as Uint8Array).buffer);
    expect([old.getBigUint64(0, true), old.getBigUint64(8, true), old.getBigUint64(16, true)]).toEqual([0x5000n, BigInt(SA_SIGINFO), sigBit(SIGUSR2)]);
  });

  it('rt_sigprocmask: BLOCK / UNBLOCK / SETMASK, SIGKILL unblockable, EINVAL for how and sigsetsize', () => {
    const put = (v: bigint): void => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, v, true);
      copyToUser(vm.ctx, as, Number(BUF), b);
    };
    const old = (): bigint => new DataView((copyFromUser(vm.ctx, as, Number(BUF) + 8, 8) as Uint8Array).buffer).getBigUint64(0, true);
    put(sigBit(SIGUSR1) | sigBit(SIGKILL));
    expect(call(135, 0n, BUF, 0n, 8n)).toBe(0);
    put(sigBit(SIGUSR2));
    expect(call(135, 0n, BUF, BUF + 8n, 8n)).toBe(0);
    expect(old()).toBe(sigBit(SIGUSR1));
    put(sigBit(SIGUSR1));
    expect(call(135, 1n, BUF, BUF + 8n, 8n)).toBe(0);
    expect(old()).toBe(sigBit(SIGUSR1) | sigBit(SIGUSR2));
    expect(call(135, 7n, BUF, 0n, 8n)).toBe(-22);
    expect(call(135, 0n, BUF, 0n, 4n)).toBe(-22);
    expect(call(135, 0n, 0n, BUF + 8n, 8n)).toBe(0);
    expect(old()).toBe(sigBit(SIGUSR2));
    put(0n);
    expect(call(135, 2n, BUF, 0n, 8n)).toBe(0);
    expect(st.withProc(P, () => st.blocked(TIX))).toBe(0n);
  });

  it('rt_sigpending reports pending blocked signals; sigaltstack: ENOMEM, EINVAL, query, EPERM on the stack', () => {
    st.withProc(P, () => { st.claimThread(TIX); st.setBlocked(TIX, sigBit(SIGUSR1)); });
    queueSignal(vm.ctx, P, -1, SIGUSR1, { signo: SIGUSR1, code: SI_USER, pid: 1, uid: 0 });
    expect(call(136, BUF, 8n)).toBe(0);
    expect(new DataView((copyFromUser(vm.ctx, as, Number(BUF), 8) as Uint8Array).buffer).getBigUint64(0, true)).toBe(sigBit(SIGUSR1));
    expect(call(136, BUF, 9n)).toBe(-22);

    const ss = (sp: bigint, flags: number, size: bigint): void => {
      const b = new Uint8Array(24);
      const dv = new DataView(b.buffer);
      dv.setBigUint64(0, sp, true);
      dv.setInt32(8, flags, true);
      dv.setBigUint64(16, size, true);
      copyToUser(vm.ctx, as, Number(BUF), b);
    };
    const ALT = BigInt(STACK_TOP - 32768);
    ss(ALT, 0, 1024n);
    expect(call(132, BUF, 0n)).toBe(-12);
    ss(ALT, 7, 8192n);
    expect(call(132, BUF, 0n)).toBe(-22);
    ss(ALT, 0, 8192n);
    expect(call(132, BUF, 0n)).toBe(0);
    expect(call(132, 0n, BUF + 32n)).toBe(0);
    const q = new DataView((copyFromUser(vm.ctx, as, Number(BUF) + 32, 24) as Uint8Array).buffer);
    expect([q.getBigUint64(0, true), q.getInt32(8, true), q.getBigUint64(16, true)]).toEqual([ALT, 0, 8192n]);
    setReg(2, ALT + 100n); // running on it
    expect(call(132, BUF, 0n)).toBe(-1);
  });

  it('fork inherits actions and mask; exec resets caught signals but keeps ignored ones', () => {
    const ctl = vm.ctl;
    const P2 = 4, T2 = 9;
    ctl.i32[procField(ctl, P2, P_PID)] = 600;
    Atomics.store(ctl.i32, procField(ctl, P2, P_STATE), PS_LIVE);
    ctl.i32[threadField(ctl, T2, T_TID)] = 600;
    ctl.i32[threadField(ctl, T2, T_PROC)] = P2;
    Atomics.store(ctl.i32, threadField(ctl, T2, T_STATE), TS_RUNNING);
    st.withProc(P, () => {
      st.claimThread(TIX);
      st.setAction(P, SIGUSR1, { handler: 0x7000n, flags: SA_SIGINFO, mask: 0n });
      st.setAction(P, SIGUSR2, { handler: SIG_IGN, flags: 0, mask: 0n });
      st.setBlocked(TIX, sigBit(SIGTERM));
    });
    st.inheritSignals(TIX, T2, P2, true);
    st.withProc(P2, () => {
      st.claimThread(T2);
      expect(st.action(P2, SIGUSR1).handler).toBe(0x7000n);
      expect(st.blocked(T2)).toBe(sigBit(SIGTERM));
    });
    st.execSignals(P2, T2);
    st.withProc(P2, () => {
      expect(st.action(P2, SIGUSR1).handler).toBe(SIG_DFL);
      expect(st.action(P2, SIGUSR2).handler).toBe(SIG_IGN);
      expect(st.blocked(T2)).toBe(sigBit(SIGTERM));
    });
  });
});
