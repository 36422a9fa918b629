/*
 * hello — the smallest guest: prints "hello, world", its arguments, the environment
 * count and a few auxiliary-vector values the ELF loader must supply.
 * Args: any; each is echoed. Expected final line: "hello: OK".
 */
#include "guest.h"
#include <sys/auxv.h>

extern char **environ;

int main(int argc, char **argv)
{
    guest_start("hello");
    printf("hello, world\n");
    printf("hello: argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("hello: argv[%d]=%s\n", i, argv[i]);
    int envc = 0;
    for (char **e = environ; *e; e++)
        envc++;
    printf("hello: envc=%d\n", envc);

    unsigned long pagesz = getauxval(AT_PAGESZ);
    CHECK(pagesz == PAGE, "AT_PAGESZ is %lu", pagesz);
    CHECK(sysconf(_SC_PAGESIZE) == (long)PAGE, "sysconf(_SC_PAGESIZE) is %ld", sysconf(_SC_PAGESIZE));
    CHECK(getauxval(AT_RANDOM) != 0, "AT_RANDOM missing");
    CHECK(getauxval(AT_PHDR) != 0, "AT_PHDR missing");
    CHECK(getauxval(AT_ENTRY) != 0, "AT_ENTRY missing");
    CHECK(argv[argc] == NULL, "argv not NULL-terminated");
    printf("hello: pagesize=%lu\n", pagesz);
    ok();
}
