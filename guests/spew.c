/*
 * spew — writes lines to stdout like `yes`, ignoring write errors (issue 13 item 10).
 *
 * Usage: spew [lines] [ign]   (lines 0 = forever, the default)
 *
 * Writes "spew\n" with write(2) `lines` times, paying no attention to the result, then
 * "spew: OK" and exits 0.
 * Behind `| head` the reader goes away: Linux sends SIGPIPE with the EPIPE and the default
 * action ends the process (status 141 at a shell); a kernel that only returns EPIPE lets a
 * `spew 0` run forever.
 * With `ign`, SIGPIPE is ignored: the first failing write must fail with EPIPE; the guest then
 * reports on stderr and exits 0.
 */
#include "guest.h"

int main(int argc, char **argv)
{
    long lines = arg_long(argc, argv, 1, 0);
    int ign = argc > 2 && strcmp(argv[2], "ign") == 0;
    if (ign)
        signal(SIGPIPE, SIG_IGN);
    for (long i = 0; lines == 0 || i < lines; i++) {
        if (write(1, "spew\n", 5) < 0 && ign) {
            int e = errno;
            dprintf(2, "spew: write failed after %ld lines: %s\n", i, e == EPIPE ? "EPIPE" : strerror(e));
            return e == EPIPE ? 0 : 1;
        }
    }
    printf("spew: OK\n");
    return 0;
}
