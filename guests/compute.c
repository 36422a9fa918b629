/*
 * compute — an integer compute loop for benchmarks: N rounds of xorshift64* mixed with
 * multiply-accumulate, 64-bit division/remainder and 32-bit (W) arithmetic, folded into a
 * checksum; then a prime sieve (primes below 100000: 9592) and a double-precision series
 * (sum of 1/k^2, checked against pi^2/6). The checksum for the default N is built in, so
 * the guest checks itself; for other N the manifest records it.
 * Args: [n] (default 300000). Expected final line: "compute: OK".
 */
#include "guest.h"
#include <math.h>

#define DEFAULT_N 300000
#define DEFAULT_CHECKSUM 0xdc4ccf76f8e8fda5ULL /* from a qemu-riscv64 reference run */

static uint64_t mix_loop(long n)
{
    uint64_t s = 0x9E3779B97F4A7C15ULL, acc = 1, acc2 = 0;
    uint32_t w = 7;
    for (long i = 0; i < n; i++) {
        uint64_t x = rng_next(&s);
        acc = acc * 6364136223846793005ULL + (x | 1);
        acc2 += (x >> 17) * (uint64_t)(i + 1);
        acc2 ^= x % 1000003ULL;
        if ((x & 15) == 0)
            acc2 += acc / ((x >> 40) | 1);
        w = w * 1103515245u + (uint32_t)x;
        w ^= (uint32_t)((int32_t)w >> 7);
        acc ^= (uint64_t)(int64_t)(int32_t)w;
    }
    return acc ^ (acc2 << 1) ^ w;
}

static long sieve(long limit)
{
    static uint8_t composite[100001];
    long count = 0;
    for (long i = 2; i <= limit; i++) {
        if (composite[i])
            continue;
        count++;
        for (long j = i * i; j <= limit; j += i)
            composite[j] = 1;
    }
    return count;
}

int main(int argc, char **argv)
{
    guest_start("compute");
    long n = arg_long(argc, argv, 1, DEFAULT_N);
    CHECK(n >= 0, "n must be >= 0");
    uint64_t sum = mix_loop(n);
    printf("compute: n=%ld checksum=%#018llx\n", n, (unsigned long long)sum);
    if (n == DEFAULT_N)
        CHECK(sum == DEFAULT_CHECKSUM, "checksum %#llx, want %#llx", (unsigned long long)sum,
              (unsigned long long)DEFAULT_CHECKSUM);
    long primes = sieve(100000);
    CHECK(primes == 9592, "sieve found %ld primes below 100000, want 9592", primes);
    printf("compute: primes below 100000: %ld\n", primes);
    double f = 0;
    for (long k = 1; k <= 100000; k++)
        f += 1.0 / ((double)k * (double)k);
    double err = M_PI * M_PI / 6 - f;
    CHECK(err > 0 && err < 1.1e-5, "sum 1/k^2 = %.15f, off by %g", f, err);
    printf("compute: sum 1/k^2 (k<=100000) = %.12f\n", f);
    ok();
}
