import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { PhysicalMemory } from '../../cpu/ram.ts';
import {
  ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE, type AccessKind,
  CAUSE_INSTRUCTION_PAGE_FAULT, CAUSE_LOAD_PAGE_FAULT, CAUSE_STORE_PAGE_FAULT,
  CAUSE_LOAD_ACCESS_FAULT, pageFaultCause, accessFaultCause,
} from '../../cpu/trap.ts';
import {
  PTE_A, PTE_D, PTE_G, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, PTE_COW, PTE_SW_SPARE,
  makePte, pteFlags, pteToPpn, vaLoHi, vpnIndex, vpnIndexLoHi, makeSatp, satpAsid, satpMode, satpPpn,
  SATP_MODE_SV48,
} from '../../cpu/pte.ts';
import fc from 'fast-check';
import {
  QUICK_LEAF, WALK_ACCESS_FAULT, WALK_PAGE_FAULT, WALK_SLOW, WalkResult, leafQuick, walkFromTable, walkSv48,
} from '../../cpu/mmu.ts';
import { PageTableBuilder } from '../helpers/pagetable.ts';

const MiB = 1024 * 1024;
const ram = PhysicalMemory.create(16 * MiB);
const out = new WalkResult();
const KINDS: AccessKind[] = [ACCESS_LOAD, ACCESS_STORE, ACCESS_FETCH];
const DATA = 8 * MiB; // data frames live at 8 MiB and up; tables below 4 MiB

function fresh(): PageTableBuilder {
  ram.u8.fill(0);
  return new PageTableBuilder(ram, 1, 1024);
}
function walk(pt: PageTableBuilder, va: bigint | number, kind: AccessKind): number {
  const [lo, hi] = vaLoHi(va);
  return walkSv48(ram, pt.rootPpn, lo, hi, kind, out);
}

describe('pte.ts hardware facts', () => {
  it('packs and unpacks PTEs, satp and VA fields', () => {
    const pte = makePte(0x12345, PTE_V | PTE_R | PTE_COW);
    expect(pte).toBe((0x12345n << 10n) | 0x103n);
    expect(pteToPpn(pte)).toBe(0x12345);
    expect(pteFlags(pte)).toBe(PTE_V | PTE_R | PTE_COW);
    expect(PTE_SW_SPARE).toBe(1 << 9);
    const satp = makeSatp(SATP_MODE_SV48, 0xbeef, 0x1234);
    expect(BigInt.asUintN(64, satp)).toBe(0x9beef00000001234n);
    expect([satpMode(satp), satpAsid(satp), satpPpn(satp)]).toEqual([9, 0xbeef, 0x1234]);
    const va = 0x7f12_3456_7abcn; // VPN[3..0] = 0xfe, 0x48, 0x1a2, 0x167
    const [lo, hi] = vaLoHi(va);
    expect([3, 2, 1, 0].map((l) => vpnIndexLoHi(l, lo, hi))).toEqual([0xfe, 0x48, 0x1a2, 0x167]);
    expect([3, 2, 1, 0].map((l) => vpnIndex(l, Number(va)))).toEqual([0xfe, 0x48, 0x1a2, 0x167]);
    expect(() => makePte(-1, 0)).toThrow(/makePte/);
  });
});

describe('walkSv48: levels', () => {
  it('walks to a 4 KiB leaf', () => {
    const pt = fresh();
    pt.map(0x1234_5000, DATA + 0x3000, PTE_U | PTE_R | PTE_A);
    expect(walk(pt, 0x1234_5abc, ACCESS_LOAD)).toBe(DATA + 0x3abc);
    expect(out.level).toBe(0);
    expect(out.pageBase).toBe(DATA + 0x3000);
    expect(out.global).toBe(false);
    expect(walk(pt, 0x1234_6abc, ACCESS_LOAD)).toBe(WALK_PAGE_FAULT); // next page unmapped
  });

  it('walks to a 2 MiB leaf and keeps the va bits below it', () => {
    const pt = fresh();
    pt.map(0x7fe0_0000, 4 * MiB, PTE_U | PTE_R | PTE_W | PTE_A | PTE_D, 1);
    expect(walk(pt, 0x7fe0_0000 + 0x1_2345, ACCESS_STORE)).toBe(4 * MiB + 0x1_2345);
    expect(out.level).toBe(1);
    expect(out.pageBase).toBe(4 * MiB + 0x1_2000);
    expect(out.leafBase).toBe(4 * MiB);
  });

  it('walks to a 1 GiB leaf; the part beyond RAM is an access fault that sets no A bit', () => {
    const pt = fresh();
    const ptePa = pt.map(0x8000_0000, 0, PTE_U | PTE_R, 2);
    expect(walk(pt, 0x8000_0000 + 0x1f_0000 + 0x2000_0000, ACCESS_LOAD)).toBe(WALK_ACCESS_FAULT); // 512 MiB in
    expect(pteFlags(pt.readPte(ptePa)) & PTE_A).toBe(0);
    expect(walk(pt, 0x8000_0000 + 0x34_5678, ACCESS_LOAD)).toBe(0x34_5678);
    expect(out.level).toBe(2);
    expect(pteFlags(pt.readPte(ptePa)) & PTE_A).toBe(PTE_A);
  });

  it('walks the kernel half (sign-extended va, root entries 256..511)', () => {
    const pt = fresh();
    const va = -0x8000_0000_0000n + 0x5000n; // 0xffff_8000_0000_5000
    pt.map(va, DATA, PTE_U | PTE_R | PTE_A);
    expect(walk(pt, va + 0x10n, ACCESS_LOAD)).toBe(DATA + 0x10);
    expect(walk(pt, 0x8000_0000_5000n, ACCESS_LOAD)).toBe(WALK_PAGE_FAULT); // same low 48 bits, not canonical
  });

  it('faults on non-canonical addresses (bits 63:48 ≠ bit 47) before reading any PTE', () => {
    const pt = fresh();
    pt.map(0x5000, DATA, PTE_U | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
    for (const k of KINDS) expect(walk(pt, 0x5000, k)).toBe(DATA);
    for (const bad of [0x0001_0000_0000_5000n, 0x8000_0000_0000_5000n, 0xffff_0000_0000_5000n, 0x7fff_ffff_ffff_f000n]) {
      for (const k of KINDS) expect(walk(pt, bad, k)).toBe(WALK_PAGE_FAULT);
    }
  });

  it('a pointer PTE at level 0 and V=0 at any level are page faults', () => {
    const pt = fresh();
    pt.setRaw(0x9000, 0, makePte(0x900, PTE_V)); // R=W=X=0 at level 0: pointer with nowhere to go
    expect(walk(pt, 0x9000, ACCESS_LOAD)).toBe(WALK_PAGE_FAULT);
    for (let level = 0; level < 4; level++) {
      const p = fresh();
      p.map(0x4000_0000_0000 - 0x1000, DATA, PTE_U | PTE_R | PTE_A);
      expect(walk(p, 0x4000_0000_0000 - 0x1000, ACCESS_LOAD)).toBe(DATA);
      const slot = p.slot(0x4000_0000_0000 - 0x1000, level);
      p.writePte(slot, p.readPte(slot) & ~1n); // clear V
      expect(walk(p, 0x4000_0000_0000 - 0x1000, ACCESS_LOAD)).toBe(WALK_PAGE_FAULT);
    }
  });
});

describe('walkSv48: superpage alignment and reserved encodings', () => {
  it('misaligned 2 MiB and 1 GiB superpages fault for every access kind', () => {
    const pt = fresh();
    const all = PTE_V | PTE_U | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;
    pt.setRaw(0x20_0000, 1, makePte((4 * MiB + 0x1000) / 4096, all)); // ppn[0] ≠ 0
    pt.setRaw(0x4000_0000, 2, makePte(0x200, all)); // 1 GiB leaf at 2 MiB: ppn[1] ≠ 0
    pt.setRaw(0x8000_0000, 2, makePte(0x1, all)); // ppn[0] ≠ 0
    for (const k of KINDS) {
      expect(walk(pt, 0x20_0000, k)).toBe(WALK_PAGE_FAULT);
      expect(walk(pt, 0x4000_0000, k)).toBe(WALK_PAGE_FAULT);
      expect(walk(pt, 0x8000_0000, k)).toBe(WALK_PAGE_FAULT);
    }
    pt.setRaw(0x20_0000, 1, makePte((4 * MiB) / 4096, all)); // aligned: fine
    for (const k of KINDS) expect(walk(pt, 0x20_0000 + 0x1234, k)).toBe(4 * MiB + 0x1234);
  });

  it('reserved bits 63:54 (N, PBMT, reserved) fault in leaves and in pointers', () => {
    for (const bit of [54n, 57n, 60n, 61n, 62n, 63n]) {
      const pt = fresh();
      const leaf = pt.map(0x3000, DATA, PTE_U | PTE_R | PTE_A);
      expect(walk(pt, 0x3000, ACCESS_LOAD)).toBe(DATA);
      pt.writePte(leaf, pt.readPte(leaf) | (1n << bit));
      expect(walk(pt, 0x3000, ACCESS_LOAD)).toBe(WALK_PAGE_FAULT);
      pt.writePte(leaf, pt.readPte(leaf) & ~(1n << bit));
      const ptr = pt.slot(0x3000, 2);
      pt.writePte(ptr, pt.readPte(ptr) | (1n << bit));
      expect(walk(pt, 0x3000, ACCESS_LOAD)).toBe(WALK_PAGE_FAULT);
    }
  });

  it('D, A or U on a pointer is reserved (page fault); G on a pointer makes the leaf global', () => {
    for (const f of [PTE_D, PTE_A, PTE_U]) {
      const pt = fresh();
      pt.map(0x3000, DATA, PTE_U | PTE_R | PTE_A);
      const ptr = pt.slot(0x3000, 1);
      pt.writePte(ptr, pt.readPte(ptr) | BigInt(f));
      expect(walk(pt, 0x3000, ACCESS_LOAD)).toBe(WALK_PAGE_FAULT);
    }
    const pt = fresh();
    pt.map(0x3000, DATA, PTE_U | PTE_R | PTE_A, 0, PTE_G);
    expect(walk(pt, 0x3000, ACCESS_LOAD)).toBe(DATA);
    expect(out.global).toBe(true);
    const g = fresh();
    g.map(0x3000, DATA, PTE_U | PTE_R | PTE_A | PTE_G);
    walk(g, 0x3000, ACCESS_LOAD);
    expect(out.global).toBe(true);
  });

  it('every R/W/X/U combination × access kind, at 4 KiB and 2 MiB leaves', () => {
    let checked = 0;
    for (const level of [0, 1]) {
      const pt = fresh();
      for (let combo = 0; combo < 16; combo++) {
        const r = combo & 1, w = (combo >> 1) & 1, x = (combo >> 2) & 1, u = (combo >> 3) & 1;
        const flags = (r ? PTE_R : 0) | (w ? PTE_W : 0) | (x ? PTE_X : 0) | (u ? PTE_U : 0) | PTE_A | PTE_D;
        const va = (combo + 1) * 0x4000_0000 + 0x20_0000; // one 1 GiB region per combination
        if (level === 0) pt.setRaw(va, 0, makePte(DATA / 4096 + combo, flags | PTE_V));
        else pt.setRaw(va, 1, makePte(4 * MiB / 4096, flags | PTE_V));
        for (const kind of KINDS) {
          const isPointer = !r && !x; // R=X=0 → a pointer: at level 0 a fault; at level 1 A/D on it are reserved
          const reserved = w && !r;
          const allowed = kind === ACCESS_LOAD ? r : kind === ACCESS_STORE ? w : x;
          const ok = !isPointer && !reserved && u && allowed;
          const got = walk(pt, va + 0x18, kind);
          if (ok) expect(got, `combo ${combo} kind ${kind}`).toBe((level === 0 ? DATA + combo * 4096 : 4 * MiB) + 0x18);
          else expect(got, `combo ${combo} kind ${kind}`).toBe(WALK_PAGE_FAULT);
          checked++;
        }
      }
    }
    expect(checked).toBe(96);
  });
});

describe('walkSv48: A/D bits and fault codes', () => {
  it('sets A on load and fetch, A and D on store; no update when already set', () => {
    const pt = fresh();
    const p1 = pt.map(0x1000, DATA, PTE_U | PTE_R | PTE_W | PTE_X);
    expect(walk(pt, 0x1000, ACCESS_LOAD)).toBe(DATA);
    expect(out.adSet).toBe(PTE_A);
    expect(pteFlags(pt.readPte(p1)) & (PTE_A | PTE_D)).toBe(PTE_A);
    expect(walk(pt, 0x1000, ACCESS_FETCH)).toBe(DATA);
    expect(out.adSet).toBe(0);
    expect(walk(pt, 0x1000, ACCESS_STORE)).toBe(DATA);
    expect(out.adSet).toBe(PTE_D);
    expect(pteFlags(pt.readPte(p1)) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    const p2 = pt.map(0x2000, DATA, PTE_U | PTE_R | PTE_W);
    expect(walk(pt, 0x2000, ACCESS_STORE)).toBe(DATA);
    expect(out.adSet).toBe(PTE_A | PTE_D);
    const p3 = pt.map(0x3000, DATA, PTE_U | PTE_X);
    expect(walk(pt, 0x3000, ACCESS_FETCH)).toBe(DATA);
    expect(pteFlags(pt.readPte(p3)) & (PTE_A | PTE_D)).toBe(PTE_A);
    // A faulting access leaves A/D alone.
    const p4 = pt.map(0x4000, DATA, PTE_U | PTE_R);
    expect(walk(pt, 0x4000, ACCESS_STORE)).toBe(WALK_PAGE_FAULT);
    expect(pteFlags(pt.readPte(p4)) & (PTE_A | PTE_D)).toBe(0);
    expect(pteToPpn(pt.readPte(p2))).toBe(DATA / 4096); // the PPN survives the update
  });

  it('access faults: root, a pointer or the leaf beyond RAM; the page-fault cause per kind', () => {
    const pt = fresh();
    pt.map(0x1000, DATA, PTE_U | PTE_R | PTE_A);
    expect(walkSv48(ram, ram.frames, 0x1000, 0, ACCESS_LOAD, out)).toBe(WALK_ACCESS_FAULT); // root frame past the end
    const ptr = pt.slot(0x1000, 1);
    pt.writePte(ptr, makePte(ram.frames + 7, PTE_V));
    expect(walk(pt, 0x1000, ACCESS_LOAD)).toBe(WALK_ACCESS_FAULT);
    const p = fresh();
    p.setRaw(0x1000, 0, makePte(ram.frames, PTE_V | PTE_U | PTE_R | PTE_A));
    expect(walk(p, 0x1000, ACCESS_LOAD)).toBe(WALK_ACCESS_FAULT);
    p.setRaw(0x2000, 0, makePte(2 ** 40, PTE_V | PTE_U | PTE_R | PTE_A)); // PPN in the high word
    expect(walk(p, 0x2000, ACCESS_LOAD)).toBe(WALK_ACCESS_FAULT);
    // What the hart raises for each walk result:
    expect(KINDS.map(pageFaultCause)).toEqual([CAUSE_LOAD_PAGE_FAULT, CAUSE_STORE_PAGE_FAULT, CAUSE_INSTRUCTION_PAGE_FAULT]);
    expect(accessFaultCause(ACCESS_LOAD)).toBe(CAUSE_LOAD_ACCESS_FAULT);
  });
});

describe('walkSv48: A/D compare-and-swap against another hart', () => {
  it('balances every A/D set against the clears of a worker racing on the same PTEs', async () => {
    const pt = fresh();
    const N = 4;
    const ptePas: number[] = [];
    for (let j = 0; j < N; j++) ptePas.push(pt.map(0x10_0000 + j * 0x1000, DATA + j * 4096, PTE_U | PTE_R | PTE_W));
    const ctlSab = new SharedArrayBuffer(8);
    const ctl = new Int32Array(ctlSab);
    const worker = new Worker(new URL('./ad-race.worker.mjs', import.meta.url), {
      workerData: { ramSab: ram.sab, ctlSab, ptePas, maxIterations: 3_000_000 },
    });
    const messages: any[] = [];
    const done = new Promise<any>((resolve, reject) => {
      worker.on('message', (m) => { messages.push(m); if (!m.ready) resolve(m); });
      worker.on('error', reject);
    });
    await new Promise<void>((resolve) => { const t = setInterval(() => { if (messages.length) { clearInterval(t); resolve(); } }, 5); });

    const setsA = new Array(N).fill(0), setsD = new Array(N).fill(0);
    let restarts = 0, walks = 0;
    const t0 = Date.now();
    // Walk until we and the worker have both done plenty, bounded in time.
    while ((walks < 200_000 || Atomics.load(ctl, 1) < 20_000) && Date.now() - t0 < 8000) {
      for (let k = 0; k < 1000; k++, walks++) {
        const j = walks % N;
        const kind = (walks >> 2) % 3 === 0 ? ACCESS_STORE : ACCESS_LOAD;
        expect(walkSv48(ram, pt.rootPpn, 0x10_0000 + j * 0x1000 + 8, 0, kind, out)).toBe(DATA + j * 4096 + 8);
        if (out.adSet & PTE_A) setsA[j]++;
        if (out.adSet & PTE_D) setsD[j]++;
        restarts += out.restarts;
      }
    }
    Atomics.store(ctl, 0, 1);
    const res = await done;
    await worker.terminate();
    for (let j = 0; j < N; j++) {
      const pte = pt.readPte(ptePas[j]);
      const f = pteFlags(pte);
      expect(pteToPpn(pte)).toBe(DATA / 4096 + j);
      expect(setsA[j] - res.clearsA[j]).toBe(f & PTE_A ? 1 : 0);
      expect(setsD[j] - res.clearsD[j]).toBe(f & PTE_D ? 1 : 0);
      expect(res.toggles[j] % 2).toBe(f & PTE_SW_SPARE ? 1 : 0); // no lost update of the other bits
    }
    expect(res.clearsA.reduce((a: number, b: number) => a + b, 0)).toBeGreaterThan(0);
    console.log(`A/D race: ${walks} walks, ${res.iterations} worker rounds, ${restarts} CAS restarts, sets A ${setsA}`);
  });
});

describe('leafQuick (the TLB miss fast path at a cached level-0 table)', () => {
  // Every leaf it accepts is one walkFromTable accepts with the same page, flags and no A/D
  // update; every leaf it refuses (WALK_SLOW) walkFromTable faults on or must update — so a
  // TLB taking the quick path fills exactly the entry the full walk would have filled.
  it('agrees with walkFromTable at level 0 on random leaf PTEs (fast-check)', () => {
    const table = 64 * 4096;
    const ramFrames = ram.bytes / 4096;
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 0x3ff }), // flags: V R W X U G A D RSW
      fc.oneof(fc.integer({ min: 0, max: ramFrames - 1 }), fc.integer({ min: ramFrames, max: 2 ** 30 })), // ppn in / beyond RAM
      fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0x3ff })), // bits 63:54 (reserved)
      fc.integer({ min: 0, max: 511 }), // vpn[0]
      fc.constantFrom(...KINDS),
      (flags, ppn, reserved, vpn0, kind) => {
        const pte = (BigInt(reserved) << 54n) | (BigInt(ppn) << 10n) | BigInt(flags);
        const slot = table / 8 + vpn0;
        ram.i64[slot] = BigInt.asIntN(64, pte);
        const vaLo = (vpn0 << 12) | 0x123;
        const quick = leafQuick(ram.f64, ram.bytes, table, vaLo, kind);
        const full = walkFromTable(ram, table, 0, false, vaLo, 0, kind, out);
        if (quick === WALK_SLOW) {
          expect(full < 0 || out.adSet !== 0).toBe(true);
        } else {
          expect(full).toBe(quick + 0x123);
          expect(out.adSet).toBe(0);
          expect(QUICK_LEAF[0]! & 0x3ff).toBe(out.flags);
        }
        ram.i64[slot] = 0n;
      },
    ), { numRuns: 3000, seed: 17 });
  });
});
