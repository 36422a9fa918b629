/**
 * Host tools some tests need (the RISC-V cross toolchain and qemu-user, Debian packages
 * gcc-riscv64-linux-gnu, libc6-dev-riscv64-cross, qemu-user). On a user's machine without them
 * those tests skip with the reason in their name; under CI (`CI` set, `.ci/run` installs them)
 * a missing tool is an error, so nothing silently skips there.
 */
import { spawnSync } from 'node:child_process';

/** True when `cmd --version` runs. Throws when CI is set and the tool is missing. */
export function hasTool(cmd: string): boolean {
  const ok = spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
  if (!ok && process.env.CI) {
    throw new Error(`${cmd} is not installed, and CI must run every test (.ci/run installs it: apt-get install qemu-user gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)`);
  }
  return ok;
}
