/**
 * Linux ABI facts of poll(2), select(2), epoll(7) and eventfd(2) (include/uapi/asm-generic/poll.h,
 * eventpoll.h, eventfd.h). poll's and epoll's event bits are the same numbers.
 */
export const POLLIN = 0x001;
export const POLLPRI = 0x002;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;
export const POLLRDNORM = 0x040;
export const POLLRDBAND = 0x080;
export const POLLWRNORM = 0x100;
export const POLLWRBAND = 0x200;
export const POLLRDHUP = 0x2000;
/** select's sets: readable = POLLIN_SET, writable = POLLOUT_SET, exceptional = POLLEX_SET (fs/select.c). */
export const POLLIN_SET = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
export const POLLOUT_SET = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
export const POLLEX_SET = POLLPRI;
/** Linux FD_SETSIZE: select's nfds above it is EINVAL (the kernel's bound is max_fds). */
export const FD_SETSIZE = 1024;
/** Linux RLIMIT_NOFILE-independent poll bound is RLIMIT_NOFILE; nfds above it is EINVAL. */
export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLEXCLUSIVE = 1 << 28;
export const EPOLLWAKEUP = 1 << 29;
export const EPOLLONESHOT = 1 << 30;
export const EPOLLET = 1 << 31;
/** struct epoll_event on riscv64: { u32 events; u32 pad; u64 data } (packed only on x86-64). */
export const EPOLL_EVENT_BYTES = 16;
/** Linux EP_MAX_EVENTS: INT_MAX / sizeof(struct epoll_event). */
export const EP_MAX_EVENTS = Math.floor(0x7fffffff / EPOLL_EVENT_BYTES);
export const EFD_SEMAPHORE = 1;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
/** Largest eventfd counter value (2^64 - 2). */
export const EFD_MAX = (1n << 64n) - 2n;
/** epoll's names for the same bits. */
export const EPOLLIN = POLLIN;
export const EPOLLOUT = POLLOUT;
export const EPOLLERR = POLLERR;
export const EPOLLHUP = POLLHUP;
export const EPOLLRDNORM = POLLRDNORM;
export const EPOLLRDHUP = POLLRDHUP;
