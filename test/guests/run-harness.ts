/**
 * Shared by test/guests/run-guests-{1,4}.test.ts and run-cli.test.ts. Every bundled guest (guests/manifest.json) runs unmodified on the machine with 1 and with
 * 4 harts: exact stdout (or the final-line prefix) and exit status as the manifest says, and
 * every frame is back after each run. Through the process API for speed (one machine per hart
 * count, the guests' stdout captured through a host file as their fd 1), plus `bin/coherent
 * run` as a child process for the CLI's own contract: exact stdout with an exact environment,
 * 139 for a segfault, 2 and the loader's reason for a refused ELF.
 *
 * Bad guests (a segfault, a division by zero, an unknown syscall) and bad ELF files end only
 * themselves: a second program (compute) spawned on the same machine at the same time
 * finishes with its exact output.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../helpers/spawn-capture.ts';
import { ElfError } from '../../kernel/proc/elf.ts';
import { bootScheduled, leakedFrames, spawn } from '../../scheduler/api.ts';
import type { Machine } from '../../scheduler/machine.ts';

export interface Guest {
  name: string;
  binary: string;
  kind: 'ok' | 'bad' | 'self-test';
  args: string[];
  env: Record<string, string>;
  stdout: string | null;
  finalLinePrefix?: string;
  exitStatus: number;
}

export const ROOT = new URL('../../', import.meta.url).pathname;
export const manifest = JSON.parse(readFileSync(join(ROOT, 'guests/manifest.json'), 'utf8')) as { guests: Guest[] };
/**
 * Guests that fail for reasons outside the process layer, skipped with the reason in the name
 * (reported to the lead; remove an entry when its cause is fixed). `name@N`: only on N harts.
 */
const KNOWN: Record<string, string> = {};
export const elfOf = (g: Guest): Uint8Array => new Uint8Array(readFileSync(join(ROOT, g.binary)));
export const envOf = (g: Guest): string[] => Object.entries(g.env).map(([k, v]) => `${k}=${v}`);
export const compute = manifest.guests.find((g) => g.name === 'compute')!;
export const byName = (n: string): Guest => manifest.guests.find((g) => g.name === n)!;

let scratch = '';
beforeAll(() => { scratch = mkdtempSync(join(tmpdir(), 'coherent-guests-')); });
afterAll(() => { rmSync(scratch, { recursive: true, force: true }); });

/** Run guest `g` on `m` with its stdout captured; resolves with { status, stdout }. */
async function runGuestCaptured(m: Machine, g: Guest, tag: string): Promise<{ status: number; stdout: string }> {
  return runCaptured(m, elfOf(g), [g.name, ...g.args], { dir: scratch, tag: `${g.name}-${tag}`, envp: envOf(g) });
}

function expectOutput(g: Guest, r: { status: number; stdout: string }): void {
  if (g.stdout !== null) expect(r.stdout).toBe(g.stdout);
  else expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^${g.finalLinePrefix!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  expect(r.status).toBe(g.exitStatus);
}

/** The manifest suite on a machine of `cpus` harts (one describe block). */
export function guestSuite(cpus: number): void {
  describe(`bundled guests on ${cpus} hart(s)`, () => {
    let m: Machine;
    beforeAll(async () => { m = await bootScheduled({ cpus, memory: 128 * 2 ** 20, root: scratch }); });
    afterAll(async () => { await m?.shutdown(); });

    for (const g of manifest.guests) {
      const why = KNOWN[g.name] ?? KNOWN[`${g.name}@${cpus}`];
      const skip = why !== undefined;
      const title = skip ? `${g.name} (skipped: ${why})` : `${g.name}: exact output and exit status ${g.exitStatus}, no frame leaked`;
      it.skipIf(skip)(title, async () => {
        const r = await runGuestCaptured(m, g, `${cpus}`);
        expectOutput(g, r);
        expect(leakedFrames(m)).toBe(0);
      }, 60_000);
    }

    for (const bad of ['segv', 'divzero', 'badsys']) {
      it(`${bad} ends only itself: compute beside it finishes exactly`, async () => {
        const [rb, rc] = await Promise.all([runGuestCaptured(m, byName(bad), `${cpus}-pair`), runGuestCaptured(m, compute, `${cpus}-pair-${bad}`)]);
        expectOutput(byName(bad), rb);
        expectOutput(compute, rc);
        expect(leakedFrames(m)).toBe(0);
      }, 60_000);
    }

    it('bad ELF files are refused with the reason while compute runs on', async () => {
      const running = runGuestCaptured(m, compute, `${cpus}-elf`);
      const hello = elfOf(byName('hello'));
      const x86 = hello.slice();
      x86[18] = 62; // e_machine = EM_X86_64
      const dynamic = hello.slice();
      const bad: [string, Uint8Array, RegExp][] = [
        ['not ELF', new TextEncoder().encode('#!/bin/sh\necho hi\n'), /not elf/],
        ['truncated', hello.subarray(0, 40), /truncated/],
        ['x86-64', x86, /not riscv/],
        ['dynamic', markDynamic(dynamic), /dynamically linked|inconsistent/],
      ];
      for (const [what, bytes, reason] of bad) {
        let err: unknown = null;
        try { spawn(m, { elf: bytes, argv: [what] }); } catch (e) { err = e; }
        expect(err, what).toBeInstanceOf(ElfError);
        expect((err as Error).message, what).toMatch(reason);
      }
      expectOutput(compute, await running);
      expect(leakedFrames(m)).toBe(0);
    }, 60_000);
  });
}

/** Turn hello's first PT_NOTE/PT_TLS-free header into a PT_INTERP: what a dynamic executable has. */
function markDynamic(elf: Uint8Array): Uint8Array {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const phoff = Number(dv.getBigUint64(32, true));
  const phnum = dv.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * 56;
    if (dv.getUint32(at, true) !== 1 /* PT_LOAD */) {
      dv.setUint32(at, 3 /* PT_INTERP */, true);
      return elf;
    }
  }
  throw new Error('markDynamic: hello has only PT_LOAD headers');
}

