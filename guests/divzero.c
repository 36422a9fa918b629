/*
 * divzero — integer division by zero and overflow, which do NOT trap on RISC-V: the
 * quotient of x/0 is -1 (all ones), the remainder is x; INT64_MIN / -1 is INT64_MIN with
 * remainder 0; the same for the 32-bit (W) forms. No SIGFPE may be raised.
 * Args: none. Expected final line: "divzero: OK".
 */
#include "guest.h"
#include <limits.h>

int main(void)
{
    guest_start("divzero");
    volatile int64_t x = 7, zero = 0, min = INT64_MIN, minus1 = -1;
    volatile uint64_t ux = 7, uzero = 0;
    volatile int32_t x32 = 7, zero32 = 0, min32 = INT32_MIN, minus1_32 = -1;
    int64_t q = x / zero, r = x % zero;
    printf("divzero: 7/0=%ld 7%%0=%ld\n", (long)q, (long)r);
    CHECK(q == -1 && r == 7, "div by zero gave %ld rem %ld", (long)q, (long)r);
    uint64_t uq = ux / uzero, ur = ux % uzero;
    printf("divzero: 7u/0=%#lx 7u%%0=%lu\n", (unsigned long)uq, (unsigned long)ur);
    CHECK(uq == UINT64_MAX && ur == 7, "divu by zero gave %#lx rem %lu", (unsigned long)uq, (unsigned long)ur);
    int64_t oq = min / minus1, orr = min % minus1;
    printf("divzero: INT64_MIN/-1=%ld rem=%ld\n", (long)oq, (long)orr);
    CHECK(oq == INT64_MIN && orr == 0, "overflow div gave %ld rem %ld", (long)oq, (long)orr);
    int32_t q32 = x32 / zero32, r32 = x32 % zero32, oq32 = min32 / minus1_32, or32 = min32 % minus1_32;
    printf("divzero: 32-bit 7/0=%d 7%%0=%d INT32_MIN/-1=%d rem=%d\n", q32, r32, oq32, or32);
    CHECK(q32 == -1 && r32 == 7 && oq32 == INT32_MIN && or32 == 0, "32-bit division results wrong");
    ok();
}
