/**
 * Linux riscv64 system calls as assembly text for cpu/asm's assembler: the few sequences that
 * litmus programs, tests and benches write again and again. Each returns lines for a template
 * literal (the first unindented, the rest indented by two spaces, as the programs are written);
 * the result is in a0 as the kernel returns it (address or -errno). Syscall numbers come from
 * kernel/syscalls-table.ts.
 *
 *   assemble(`
 *   _start:
 *     li s1, 0x200000
 *     ${asmMmap('s1', 4096, 0x32)}     // MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, PROT_READ|PROT_WRITE
 *     ${asmMunmap('s1', 4096)}
 *   `)
 */
import { SYS_mmap, SYS_munmap } from './syscalls-table.ts';

/**
 * `mmap(addr, len, prot, flags, -1, 0)`: `addr` is a register holding the address, or null for
 * 0 (let the kernel choose); `len` a number or an expression the template already resolved.
 * Clobbers a0-a5, a7.
 */
export function asmMmap(addr: string | null, len: number | string, flags: number, prot = 3): string {
  return [
    addr === null ? 'li a0, 0' : `mv a0, ${addr}`,
    `li a1, ${len}`,
    `li a2, ${prot}`,
    `li a3, 0x${flags.toString(16)}`,
    'li a4, -1',
    'li a5, 0',
    `li a7, ${SYS_mmap}`,
    'ecall',
  ].join('\n  ');
}

/** `munmap(addr, len)` with the address in register `addr`. Clobbers a0, a1, a7. */
export function asmMunmap(addr: string, len: number | string): string {
  return [`mv a0, ${addr}`, `li a1, ${len}`, `li a7, ${SYS_munmap}`, 'ecall'].join('\n  ');
}
