/*
 * segv — a bad guest: stores through a wild pointer with no handler installed. The
 * process must be killed by SIGSEGV (exit status 139 = 128+11 at the CLI); the machine
 * and every other process go on. Prints one line first (flushed).
 * Args: none. Expected stdout: "segv: storing to 0x10", then death by SIGSEGV.
 */
#include "guest.h"

int main(void)
{
    guest_start("segv");
    volatile uintptr_t addr = 0x10; /* through a volatile, so the compiler cannot see it */
    volatile int *wild = (volatile int *)addr;
    printf("segv: storing to %p\n", (void *)wild);
    fflush(stdout);
    *wild = 1;
    printf("segv: FAIL the store to %p did not fault\n", (void *)wild);
    return 1;
}
