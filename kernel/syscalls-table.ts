/**
 * Linux riscv64 system-call numbers (the asm-generic table of include/uapi/asm-generic/unistd.h
 * plus riscv's arch-specific calls) and a number → name lookup for statistics.
 *
 * The guest puts the number in a7 and the arguments in a0..a5; `ecall` traps to the kernel,
 * which returns a value or -errno in a0. Named constants below cover every call issue 6 needs
 * and what static glibc 2.36 issues at start-up; `syscallName` knows every number the
 * toolchain's <asm/unistd.h> defines (test/fixtures/syscall-numbers.json checks both).
 *
 * The flag constants the syscall layer decodes (MAP_*, PROT_*, O_*, CLONE_*, FUTEX_*, ...) live
 * in linux-flags.ts and are re-exported from here.
 */

export * from './linux-flags.ts';

// --- files and descriptors ---
export const SYS_getcwd = 17;
export const SYS_dup = 23;
export const SYS_dup3 = 24;
export const SYS_fcntl = 25;
export const SYS_ioctl = 29;
export const SYS_mkdirat = 34;
export const SYS_unlinkat = 35;
export const SYS_symlinkat = 36;
export const SYS_linkat = 37;
export const SYS_ftruncate = 46;
export const SYS_faccessat = 48;
export const SYS_chdir = 49;
export const SYS_fchdir = 50;
export const SYS_openat = 56;
export const SYS_close = 57;
export const SYS_pipe2 = 59;
export const SYS_getdents64 = 61;
export const SYS_lseek = 62;
export const SYS_read = 63;
export const SYS_write = 64;
export const SYS_readv = 65;
export const SYS_writev = 66;
export const SYS_pread64 = 67;
export const SYS_pwrite64 = 68;
export const SYS_ppoll = 73;
export const SYS_readlinkat = 78;
export const SYS_newfstatat = 79;
export const SYS_fstat = 80;
export const SYS_fsync = 82;
export const SYS_fdatasync = 83;
export const SYS_utimensat = 88;
export const SYS_renameat2 = 276;
export const SYS_statx = 291;
export const SYS_faccessat2 = 439;

// --- processes, threads, futexes ---
export const SYS_exit = 93;
export const SYS_exit_group = 94;
export const SYS_waitid = 95;
export const SYS_set_tid_address = 96;
export const SYS_futex = 98;
export const SYS_set_robust_list = 99;
export const SYS_get_robust_list = 100;
export const SYS_sched_setaffinity = 122;
export const SYS_sched_getaffinity = 123;
export const SYS_sched_yield = 124;
export const SYS_sched_get_priority_max = 125;
export const SYS_sched_get_priority_min = 126;
export const SYS_process_vm_readv = 270;
export const SYS_process_vm_writev = 271;
export const SYS_setpgid = 154;
export const SYS_getpgid = 155;
export const SYS_setsid = 157;
export const SYS_uname = 160;
export const SYS_getrlimit = 163;
export const SYS_setrlimit = 164;
export const SYS_getrusage = 165;
export const SYS_umask = 166;
export const SYS_prctl = 167;
export const SYS_getcpu = 168;
export const SYS_getpid = 172;
export const SYS_getppid = 173;
export const SYS_getuid = 174;
export const SYS_geteuid = 175;
export const SYS_getgid = 176;
export const SYS_getegid = 177;
export const SYS_gettid = 178;
export const SYS_sysinfo = 179;
export const SYS_clone = 220;
export const SYS_execve = 221;
export const SYS_wait4 = 260;
export const SYS_prlimit64 = 261;
export const SYS_getrandom = 278;
export const SYS_membarrier = 283;
export const SYS_rseq = 293;
export const SYS_clone3 = 435;

// --- signals ---
export const SYS_kill = 129;
export const SYS_tkill = 130;
export const SYS_tgkill = 131;
export const SYS_sigaltstack = 132;
export const SYS_rt_sigsuspend = 133;
export const SYS_rt_sigaction = 134;
export const SYS_rt_sigprocmask = 135;
export const SYS_rt_sigpending = 136;
export const SYS_rt_sigtimedwait = 137;
export const SYS_rt_sigreturn = 139;

// --- time ---
export const SYS_nanosleep = 101;
export const SYS_getitimer = 102;
export const SYS_setitimer = 103;
export const SYS_clock_gettime = 113;
export const SYS_clock_getres = 114;
export const SYS_clock_nanosleep = 115;
export const SYS_times = 153;
export const SYS_gettimeofday = 169;

// --- memory ---
export const SYS_brk = 214;
export const SYS_munmap = 215;
export const SYS_mremap = 216;
export const SYS_mmap = 222;
export const SYS_mprotect = 226;
export const SYS_msync = 227;
export const SYS_mlock = 228;
export const SYS_munlock = 229;
export const SYS_mincore = 232;
export const SYS_madvise = 233;

// --- riscv-specific ---
export const SYS_riscv_hwprobe = 258;
export const SYS_riscv_flush_icache = 259;

/** One past the largest syscall number the table knows; a7 ≥ this is certainly ENOSYS. */
export const SYSCALL_NUMBER_LIMIT = 512;

/** [number, name] for every syscall riscv64 Linux defines: the toolchain's 6.1 headers plus riscv_hwprobe, cachestat, fchmodat2. */
const SYSCALL_LIST: ReadonlyArray<readonly [number, string]> = [
  [0, 'io_setup'], [1, 'io_destroy'], [2, 'io_submit'], [3, 'io_cancel'], [4, 'io_getevents'],
  [5, 'setxattr'], [6, 'lsetxattr'], [7, 'fsetxattr'], [8, 'getxattr'], [9, 'lgetxattr'],
  [10, 'fgetxattr'], [11, 'listxattr'], [12, 'llistxattr'], [13, 'flistxattr'],
  [14, 'removexattr'], [15, 'lremovexattr'], [16, 'fremovexattr'], [17, 'getcwd'],
  [18, 'lookup_dcookie'], [19, 'eventfd2'], [20, 'epoll_create1'], [21, 'epoll_ctl'],
  [22, 'epoll_pwait'], [23, 'dup'], [24, 'dup3'], [25, 'fcntl'], [26, 'inotify_init1'],
  [27, 'inotify_add_watch'], [28, 'inotify_rm_watch'], [29, 'ioctl'], [30, 'ioprio_set'],
  [31, 'ioprio_get'], [32, 'flock'], [33, 'mknodat'], [34, 'mkdirat'], [35, 'unlinkat'],
  [36, 'symlinkat'], [37, 'linkat'], [39, 'umount2'], [40, 'mount'], [41, 'pivot_root'],
  [42, 'nfsservctl'], [43, 'statfs'], [44, 'fstatfs'], [45, 'truncate'], [46, 'ftruncate'],
  [47, 'fallocate'], [48, 'faccessat'], [49, 'chdir'], [50, 'fchdir'], [51, 'chroot'],
  [52, 'fchmod'], [53, 'fchmodat'], [54, 'fchownat'], [55, 'fchown'], [56, 'openat'],
  [57, 'close'], [58, 'vhangup'], [59, 'pipe2'], [60, 'quotactl'], [61, 'getdents64'],
  [62, 'lseek'], [63, 'read'], [64, 'write'], [65, 'readv'], [66, 'writev'], [67, 'pread64'],
  [68, 'pwrite64'], [69, 'preadv'], [70, 'pwritev'], [71, 'sendfile'], [72, 'pselect6'],
  [73, 'ppoll'], [74, 'signalfd4'], [75, 'vmsplice'], [76, 'splice'], [77, 'tee'],
  [78, 'readlinkat'], [79, 'newfstatat'], [80, 'fstat'], [81, 'sync'], [82, 'fsync'],
  [83, 'fdatasync'], [84, 'sync_file_range'], [85, 'timerfd_create'], [86, 'timerfd_settime'],
  [87, 'timerfd_gettime'], [88, 'utimensat'], [89, 'acct'], [90, 'capget'], [91, 'capset'],
  [92, 'personality'], [93, 'exit'], [94, 'exit_group'], [95, 'waitid'], [96, 'set_tid_address'],
  [97, 'unshare'], [98, 'futex'], [99, 'set_robust_list'], [100, 'get_robust_list'],
  [101, 'nanosleep'], [102, 'getitimer'], [103, 'setitimer'], [104, 'kexec_load'],
  [105, 'init_module'], [106, 'delete_module'], [107, 'timer_create'], [108, 'timer_gettime'],
  [109, 'timer_getoverrun'], [110, 'timer_settime'], [111, 'timer_delete'], [112, 'clock_settime'],
  [113, 'clock_gettime'], [114, 'clock_getres'], [115, 'clock_nanosleep'], [116, 'syslog'],
  [117, 'ptrace'], [118, 'sched_setparam'], [119, 'sched_setscheduler'],
  [120, 'sched_getscheduler'], [121, 'sched_getparam'], [122, 'sched_setaffinity'],
  [123, 'sched_getaffinity'], [124, 'sched_yield'], [125, 'sched_get_priority_max'],
  [126, 'sched_get_priority_min'], [127, 'sched_rr_get_interval'], [128, 'restart_syscall'],
  [129, 'kill'], [130, 'tkill'], [131, 'tgkill'], [132, 'sigaltstack'], [133, 'rt_sigsuspend'],
  [134, 'rt_sigaction'], [135, 'rt_sigprocmask'], [136, 'rt_sigpending'], [137, 'rt_sigtimedwait'],
  [138, 'rt_sigqueueinfo'], [139, 'rt_sigreturn'], [140, 'setpriority'], [141, 'getpriority'],
  [142, 'reboot'], [143, 'setregid'], [144, 'setgid'], [145, 'setreuid'], [146, 'setuid'],
  [147, 'setresuid'], [148, 'getresuid'], [149, 'setresgid'], [150, 'getresgid'],
  [151, 'setfsuid'], [152, 'setfsgid'], [153, 'times'], [154, 'setpgid'], [155, 'getpgid'],
  [156, 'getsid'], [157, 'setsid'], [158, 'getgroups'], [159, 'setgroups'], [160, 'uname'],
  [161, 'sethostname'], [162, 'setdomainname'], [163, 'getrlimit'], [164, 'setrlimit'],
  [165, 'getrusage'], [166, 'umask'], [167, 'prctl'], [168, 'getcpu'], [169, 'gettimeofday'],
  [170, 'settimeofday'], [171, 'adjtimex'], [172, 'getpid'], [173, 'getppid'], [174, 'getuid'],
  [175, 'geteuid'], [176, 'getgid'], [177, 'getegid'], [178, 'gettid'], [179, 'sysinfo'],
  [180, 'mq_open'], [181, 'mq_unlink'], [182, 'mq_timedsend'], [183, 'mq_timedreceive'],
  [184, 'mq_notify'], [185, 'mq_getsetattr'], [186, 'msgget'], [187, 'msgctl'], [188, 'msgrcv'],
  [189, 'msgsnd'], [190, 'semget'], [191, 'semctl'], [192, 'semtimedop'], [193, 'semop'],
  [194, 'shmget'], [195, 'shmctl'], [196, 'shmat'], [197, 'shmdt'], [198, 'socket'],
  [199, 'socketpair'], [200, 'bind'], [201, 'listen'], [202, 'accept'], [203, 'connect'],
  [204, 'getsockname'], [205, 'getpeername'], [206, 'sendto'], [207, 'recvfrom'],
  [208, 'setsockopt'], [209, 'getsockopt'], [210, 'shutdown'], [211, 'sendmsg'], [212, 'recvmsg'],
  [213, 'readahead'], [214, 'brk'], [215, 'munmap'], [216, 'mremap'], [217, 'add_key'],
  [218, 'request_key'], [219, 'keyctl'], [220, 'clone'], [221, 'execve'], [222, 'mmap'],
  [223, 'fadvise64'], [224, 'swapon'], [225, 'swapoff'], [226, 'mprotect'], [227, 'msync'],
  [228, 'mlock'], [229, 'munlock'], [230, 'mlockall'], [231, 'munlockall'], [232, 'mincore'],
  [233, 'madvise'], [234, 'remap_file_pages'], [235, 'mbind'], [236, 'get_mempolicy'],
  [237, 'set_mempolicy'], [238, 'migrate_pages'], [239, 'move_pages'], [240, 'rt_tgsigqueueinfo'],
  [241, 'perf_event_open'], [242, 'accept4'], [243, 'recvmmsg'], [258, 'riscv_hwprobe'],
  [259, 'riscv_flush_icache'], [260, 'wait4'], [261, 'prlimit64'], [262, 'fanotify_init'],
  [263, 'fanotify_mark'], [264, 'name_to_handle_at'], [265, 'open_by_handle_at'],
  [266, 'clock_adjtime'], [267, 'syncfs'], [268, 'setns'], [269, 'sendmmsg'],
  [270, 'process_vm_readv'], [271, 'process_vm_writev'], [272, 'kcmp'], [273, 'finit_module'],
  [274, 'sched_setattr'], [275, 'sched_getattr'], [276, 'renameat2'], [277, 'seccomp'],
  [278, 'getrandom'], [279, 'memfd_create'], [280, 'bpf'], [281, 'execveat'], [282, 'userfaultfd'],
  [283, 'membarrier'], [284, 'mlock2'], [285, 'copy_file_range'], [286, 'preadv2'],
  [287, 'pwritev2'], [288, 'pkey_mprotect'], [289, 'pkey_alloc'], [290, 'pkey_free'],
  [291, 'statx'], [292, 'io_pgetevents'], [293, 'rseq'], [294, 'kexec_file_load'],
  [424, 'pidfd_send_signal'], [425, 'io_uring_setup'], [426, 'io_uring_enter'],
  [427, 'io_uring_register'], [428, 'open_tree'], [429, 'move_mount'], [430, 'fsopen'],
  [431, 'fsconfig'], [432, 'fsmount'], [433, 'fspick'], [434, 'pidfd_open'], [435, 'clone3'],
  [436, 'close_range'], [437, 'openat2'], [438, 'pidfd_getfd'], [439, 'faccessat2'],
  [440, 'process_madvise'], [441, 'epoll_pwait2'], [442, 'mount_setattr'], [443, 'quotactl_fd'],
  [444, 'landlock_create_ruleset'], [445, 'landlock_add_rule'], [446, 'landlock_restrict_self'],
  [447, 'memfd_secret'], [448, 'process_mrelease'], [449, 'futex_waitv'],
  [450, 'set_mempolicy_home_node'], [451, 'cachestat'], [452, 'fchmodat2'],
];

const NAMES: ReadonlyMap<number, string> = new Map(SYSCALL_LIST);
const NUMBERS: ReadonlyMap<string, number> = new Map(SYSCALL_LIST.map(([n, name]) => [name, n]));

/**
 * Name of syscall `nr` ("openat"), for statistics and traces; `sys_<nr>` for a number Linux
 * riscv64 does not define. Never throws.
 */
export function syscallName(nr: number): string {
  return NAMES.get(nr) ?? `sys_${nr}`;
}

/** Number of the syscall called `name`, or undefined if riscv64 Linux has no such call. */
export function syscallNumber(name: string): number | undefined {
  return NUMBERS.get(name);
}

/** Every [number, name] pair the table knows, in number order (for listings and tests). */
export function allSyscalls(): ReadonlyArray<readonly [number, string]> {
  return SYSCALL_LIST;
}
