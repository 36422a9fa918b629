/*
 * filemap — a file mapped MAP_SHARED and MAP_PRIVATE. Creates FILE in the current
 * directory, writes SIZE = 2 pages + 1000 bytes of pattern, and maps 4 pages of it both
 * ways. Checks: both mappings show the file; bytes past EOF in the last partial page read
 * zero; the page wholly past EOF raises SIGBUS (BUS_ADRERR, exact si_addr); a private
 * write is not in the file (pread) nor in the shared mapping; a shared write reaches the
 * file after msync (pread), and a pwrite to the file shows in the shared mapping (one page
 * cache); a write past EOF in the last page never extends the file; after ftruncate grows
 * the file the former SIGBUS page reads zero. The file is unlinked at the end.
 * Args: [file] (default "filemap.dat") [rounds] (default 1).
 * Expected final line: "filemap: OK".
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/stat.h>

#define SIZE (2 * PAGE + 1000)
#define MAPLEN (4 * PAGE)

static uint8_t file_byte(size_t i) { return (uint8_t)(i * 7 + (i >> 8) + 1); }

static void one_round(const char *name)
{
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open %s: %s", name, strerror(errno));
    static uint8_t buf[SIZE];
    for (size_t i = 0; i < SIZE; i++)
        buf[i] = file_byte(i);
    CHECK(write(fd, buf, SIZE) == (ssize_t)SIZE, "write: %s", strerror(errno));

    volatile uint8_t *sh = mmap(NULL, MAPLEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(sh != MAP_FAILED, "mmap shared: %s", strerror(errno));
    volatile uint8_t *pv = mmap(NULL, MAPLEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(pv != MAP_FAILED, "mmap private: %s", strerror(errno));
    for (size_t i = 0; i < SIZE; i++) {
        CHECK(sh[i] == file_byte(i), "shared mapping byte %zu is %u, want %u", i, sh[i], file_byte(i));
        CHECK(pv[i] == file_byte(i), "private mapping byte %zu is %u", i, pv[i]);
    }
    for (size_t i = SIZE; i < 3 * PAGE; i++)
        CHECK(sh[i] == 0 && pv[i] == 0, "byte %zu past EOF in the last page is not zero", i);
    const volatile uint8_t *beyond = sh + 3 * PAGE + 16;
    expect_fault(probe_read(beyond, NULL), SIGBUS, BUS_ADRERR, (const void *)beyond, "read page past EOF (shared)");
    beyond = pv + 3 * PAGE + 16;
    expect_fault(probe_read(beyond, NULL), SIGBUS, BUS_ADRERR, (const void *)beyond, "read page past EOF (private)");
    printf("filemap: mapped %lu bytes; tail zero; SIGBUS past EOF\n", (unsigned long)SIZE);

    /* Private writes stay private. */
    for (size_t i = 0; i < 2 * PAGE; i += 64)
        pv[i] = 0xEE;
    uint8_t rd[SIZE];
    CHECK(pread(fd, rd, SIZE, 0) == (ssize_t)SIZE, "pread: %s", strerror(errno));
    for (size_t i = 0; i < SIZE; i++)
        CHECK(rd[i] == file_byte(i), "private write reached the file at %zu", i);
    for (size_t i = 0; i < 2 * PAGE; i += 64)
        CHECK(sh[i] == file_byte(i), "private write reached the shared mapping at %zu", i);

    /* Shared writes reach the file. */
    for (size_t i = 100; i < SIZE; i += 50)
        sh[i] = (uint8_t)(0x80 | (i & 0x7f));
    sh[SIZE + 10] = 0x77; /* past EOF in the last page: never in the file */
    CHECK(msync((void *)sh, MAPLEN - PAGE, MS_SYNC) == 0, "msync: %s", strerror(errno));
    CHECK(pread(fd, rd, SIZE, 0) == (ssize_t)SIZE, "pread: %s", strerror(errno));
    for (size_t i = 0; i < SIZE; i++) {
        uint8_t want = (i >= 100 && (i - 100) % 50 == 0) ? (uint8_t)(0x80 | (i & 0x7f)) : file_byte(i);
        CHECK(rd[i] == want, "file byte %zu is %u after msync, want %u", i, rd[i], want);
    }
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == (off_t)SIZE, "file size changed to %ld", (long)st.st_size);
    printf("filemap: private writes stay private; shared writes reach the file after msync\n");

    /* The file and the shared mapping are one page cache. */
    uint8_t v = 0x42;
    CHECK(pwrite(fd, &v, 1, PAGE + 5) == 1, "pwrite: %s", strerror(errno));
    CHECK(sh[PAGE + 5] == 0x42, "pwrite not visible in the shared mapping");

    /* Growing the file makes the SIGBUS page valid, zero-filled. */
    CHECK(ftruncate(fd, 4 * PAGE) == 0, "ftruncate: %s", strerror(errno));
    for (size_t i = 3 * PAGE; i < 4 * PAGE; i += 512)
        CHECK(sh[i] == 0, "grown page byte %zu not zero", i);
    sh[3 * PAGE + 1] = 9;
    CHECK(pread(fd, &v, 1, 3 * PAGE + 1) == 1 && v == 9, "write to the grown page not in the file");
    printf("filemap: pwrite visible in the mapping; ftruncate grow ends SIGBUS\n");

    CHECK(munmap((void *)sh, MAPLEN) == 0 && munmap((void *)pv, MAPLEN) == 0, "munmap: %s", strerror(errno));
    CHECK(close(fd) == 0, "close");
    CHECK(unlink(name) == 0, "unlink %s: %s", name, strerror(errno));
    CHECK(access(name, F_OK) == -1 && errno == ENOENT, "%s still exists after unlink", name);
}

int main(int argc, char **argv)
{
    guest_start("filemap");
    const char *name = argc > 1 ? argv[1] : "filemap.dat";
    long rounds = arg_long(argc, argv, 2, 1);
    probe_install();
    for (long r = 0; r < rounds; r++)
        one_round(name);
    ok();
}
