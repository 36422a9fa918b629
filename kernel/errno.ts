/**
 * Linux errno numbers (include/uapi/asm-generic/errno-base.h, errno.h — riscv64 uses the
 * generic table) and the signal facts the VM reports (signal numbers, si_code values).
 * Kernel functions that mirror a syscall return a negative errno (`-EINVAL`) on failure,
 * exactly as the syscall ABI hands it to user space.
 */
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENFILE = 23;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ERANGE = 34;
export const EDEADLK = 35;
export const ENAMETOOLONG = 36;
export const ENOSYS = 38;
export const EOVERFLOW = 75;
export const EOPNOTSUPP = 95;

/** Signal numbers (asm-generic/signal.h). */
export const SIGBUS = 7;
export const SIGSEGV = 11;
/** si_code for SIGSEGV. */
export const SEGV_MAPERR = 1; // address not mapped to object
export const SEGV_ACCERR = 2; // invalid permissions for mapped object
/** si_code for SIGBUS. */
export const BUS_ADRERR = 2; // nonexistent physical address (e.g. past end of file)

const NAMES: Readonly<Record<number, string>> = {
  [EPERM]: 'EPERM', [ENOENT]: 'ENOENT', [EINTR]: 'EINTR', [EIO]: 'EIO', [EBADF]: 'EBADF',
  [EAGAIN]: 'EAGAIN', [ENOMEM]: 'ENOMEM', [EACCES]: 'EACCES', [EFAULT]: 'EFAULT', [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST', [ENODEV]: 'ENODEV', [EINVAL]: 'EINVAL', [ENFILE]: 'ENFILE', [EFBIG]: 'EFBIG',
  [ENOSPC]: 'ENOSPC', [ERANGE]: 'ERANGE', [ENAMETOOLONG]: 'ENAMETOOLONG', [ENOSYS]: 'ENOSYS',
  [EOVERFLOW]: 'EOVERFLOW', [EOPNOTSUPP]: 'EOPNOTSUPP',
};

/** Symbolic name of errno `e` (positive or negative), e.g. errnoName(-22) === 'EINVAL'. */
export function errnoName(e: number): string {
  return NAMES[Math.abs(e)] ?? `errno ${Math.abs(e)}`;
}
