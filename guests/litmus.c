/*
 * litmus — the generic guest that runs a transistency litmus test (docs/litmus.md).
 *
 * The host side (bin/litmus/) parses a .litmus file, assembles each thread's instructions
 * with cpu/asm (page-table edits become real mmap/mprotect/munmap/madvise/msync/clone ecalls)
 * and writes a compact image; this guest runs the image's `runs` runs, each in a process of
 * its own: `litmus IMAGE...` posix_spawns itself as `litmus --run TEST RUN IMAGE DELAY...` per
 * run (a fresh address space: no translation an earlier run left behind, and a run an unsafe
 * policy wrecks costs only itself).
 *
 * Image (little-endian 64-bit words; bin/litmus/image.ts writes it):
 *   [0] magic "LITMUS01"  [1] threads (1..4)  [2] pages (1..16)  [3] observations (1..64)
 *   [4] runs  [5] seed  [6] max start delay (spin iterations)  [7] reserved
 *   pages: 5 words each: va, kind (PK_*), prot (PROT_* bits), initial word 0, file page
 *   threads: 3 words each: code va, code bytes, word offset of the code in the image
 *   observations: 1 word each: kind << 32 | a << 16 | b  (OBS_*; a = thread or page, b = register)
 *
 * One run (run_child → run_once): the run process maps the code at its fixed addresses,
 * creates every page (anonymous pages at their initial value; the test's file — litmus.dat in
 * the working directory — rewritten with the initial values, kept open on fd LITMUS_FD (100)
 * for `mmap PAGE file@N` in test code, and its pages mapped from it), clears the result slots,
 * starts one pthread per litmus thread and releases them (futex); they meet in a spin barrier,
 * spin their start delay (drawn by the parent from the seeded PRNG) and call their code:
 * generated prologue (s1 = the result slot) → the test's instructions → epilogue (every
 * register into the slot, state DONE). A fault (SIGSEGV/SIGBUS) in test code ends that thread:
 * the handler saves the registers of the faulting instruction and the signal into the slot
 * addressed by the faulting context's s1 and jumps back. A `fork` in test code is a raw
 * clone(SIGCHLD): the child continues the same code with s1 moved to the child slot (slots live
 * in a MAP_SHARED page) and exits when its code returns. The run process then waits (bounded)
 * for the threads and the children, reads each page's word 0 through its mapping (F when that
 * faults), unmaps everything, closes the file and reads it back (what reached the file — the
 * page cache is dropped with the last reference), and prints
 *     R <test> <run> <v1> <v2> ...   (hex values in observation order, F = faulted/absent)
 * The parent prints "X <test> <run> <why>" for a run process that died or wedged (killed after
 * 2 * WAIT_SECONDS), runs the next image (test = its position among the arguments), and ends
 * with "litmus: OK"; a bad image: "litmus: FAIL ...".
 *
 * Args: [--fork] <image file>...   (--fork: each run in a forked child instead of a spawned
 *       process — for qemu-user, which cannot exec a riscv64 file; the emulator uses spawn)
 */
#include "guest.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <spawn.h>
#include <ucontext.h>

extern char **environ;

#define MAGIC 0x31305355544D494CULL /* "LITMUS01" */
#define MAX_THREADS 4
#define MAX_PAGES 16
#define MAX_OBS 64
#define SLOT_WORDS 40 /* 32 registers, state, signal, padding; child slots at +MAX_THREADS */
#define ST_DONE 1
#define ST_FAULT 2
#define FILE_NAME "litmus.dat"
#define LITMUS_FD 100 /* the test's file during a run (bin/litmus/image.ts) */
#define WAIT_SECONDS 10

enum { PK_NONE = 0, PK_ANON = 1, PK_SHARED = 2, PK_FILE = 3, PK_FILE_PRIVATE = 4 };
enum { OBS_REG = 1, OBS_CHILD_REG = 2, OBS_FAULT = 3, OBS_CHILD_FAULT = 4, OBS_MEM = 5, OBS_FILE = 6 };

struct page_desc { uint64_t va, kind, prot, init, file_page; };
struct thread_desc { uint64_t va, bytes, offset; };

static uint64_t nthreads, npages, nobs, runs, seed, max_delay;
static struct page_desc pages[MAX_PAGES];
static struct thread_desc threads[MAX_THREADS];
static uint64_t obs[MAX_OBS];
static volatile uint64_t *slots; /* MAP_SHARED: 2 * MAX_THREADS slots of SLOT_WORDS */
static pid_t main_pid;
static int use_fork; /* --fork: runs in forked children instead of spawned ones */
/*
 * The harness's shared words live in a MAP_SHARED page, never in .data/.bss: a `fork` in test
 * code write-protects every private page of the process, and under the unsafe policies a hart
 * that keeps a stale writable entry would then store the harness's own state into the frame
 * the child took (the main thread would wait for ever for `finished`).
 */
struct control {
    atomic_int go;       /* run number + 1 releases the threads (futex word); -1: exit */
    atomic_int arrived;  /* threads past `go` in the current run (the spin barrier) */
    atomic_int finished; /* threads done with the current run (futex word) */
    uint64_t delays[MAX_THREADS];
    /* Copies of the current test's thread facts, for the test threads and the fault handler. */
    int nthreads;
    uint64_t code_va[MAX_THREADS], code_lo, code_hi;
};
static struct control *ctl;

static __thread sigjmp_buf fault_jmp;
static __thread volatile int in_test; /* 1 while this thread runs test code */
static __thread volatile int probing; /* 1 inside probe_word */

static uint64_t code_lo, code_hi; /* main's; the threads read ctl's copies */

/* on_fault: a fault in test code saves the faulting context into the slot its s1 names. */
static void on_fault(int sig, siginfo_t *si, void *ucv)
{
    (void)si;
    ucontext_t *uc = ucv;
    uint64_t pc = uc->uc_mcontext.__gregs[0];
    if (probing) {
        probing = 0;
        siglongjmp(fault_jmp, 1);
    }
    if (!in_test || pc < ctl->code_lo || pc >= ctl->code_hi) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    volatile uint64_t *slot = (volatile uint64_t *)uc->uc_mcontext.__gregs[9]; /* s1 */
    for (int i = 1; i < 32; i++)
        slot[i] = uc->uc_mcontext.__gregs[i];
    slot[0] = 0;
    slot[33] = (uint64_t)sig;
    slot[32] = ST_FAULT;
    in_test = 0;
    siglongjmp(fault_jmp, 1);
}

/* probe_word: the word at va, or 0 with *faulted set. */
static uint64_t probe_word(uint64_t va, int *faulted)
{
    *faulted = 0;
    if (sigsetjmp(fault_jmp, 1) == 0) {
        probing = 1;
        uint64_t v = *(volatile uint64_t *)va;
        probing = 0;
        return v;
    }
    *faulted = 1;
    return 0;
}

/* run_code: call thread t's code on `slot`; in a forked child, exit afterwards. */
static void run_code(long t, volatile uint64_t *slot)
{
    void (*code)(volatile uint64_t *) = (void (*)(volatile uint64_t *))(uintptr_t)ctl->code_va[t];
    if (sigsetjmp(fault_jmp, 1) == 0) {
        in_test = 1;
        code(slot);
        in_test = 0;
    }
    if (syscall(SYS_getpid) != main_pid)
        syscall(SYS_exit_group, 0); /* a child of `fork` in test code: its slot is written */
}

static void spin(uint64_t n)
{
    for (volatile uint64_t i = 0; i < n; i++) {}
}

static long futex(atomic_int *w, int op, int v, const struct timespec *ts)
{
    return syscall(SYS_futex, w, op | 128 /* FUTEX_PRIVATE_FLAG */, v, ts, NULL, 0);
}

/*
 * thread_main: per run, sleep on `go` (no hart is burnt while main sets the run up), then meet
 * the other threads in a spin barrier so they start together (bounded: after ~1M spins a
 * thread goes on alone, yielding now and then for harts fewer than threads), spin the seeded
 * start delay and run the code.
 */
static void *thread_main(void *arg)
{
    long t = (long)arg;
    int g;
    while ((g = atomic_load_explicit(&ctl->go, memory_order_acquire)) == 0)
        futex(&ctl->go, 0 /* FUTEX_WAIT */, g, NULL);
    atomic_fetch_add(&ctl->arrived, 1);
    for (unsigned long spins = 1; atomic_load(&ctl->arrived) < ctl->nthreads && spins < (1UL << 20); spins++)
        if (spins % 256 == 0)
            sched_yield();
    spin(ctl->delays[t]);
    run_code(t, slots + t * SLOT_WORDS);
    if (atomic_fetch_add_explicit(&ctl->finished, 1, memory_order_release) + 1 == ctl->nthreads)
        futex(&ctl->finished, 1 /* FUTEX_WAKE */, 1, NULL);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t *load_image(const char *path, size_t *words)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    off_t size = lseek(fd, 0, SEEK_END);
    CHECK(size >= 64 && size % 8 == 0 && size < (1 << 20), "image %s: bad size %ld", path, (long)size);
    uint64_t *img = malloc((size_t)size);
    CHECK(img && pread(fd, img, (size_t)size, 0) == size, "image %s: read failed", path);
    close(fd);
    *words = (size_t)size / 8;
    return img;
}

static void parse_image(uint64_t *img, size_t words)
{
    CHECK(img[0] == MAGIC, "image: bad magic");
    nthreads = img[1], npages = img[2], nobs = img[3], runs = img[4], seed = img[5], max_delay = img[6];
    CHECK(nthreads >= 1 && nthreads <= MAX_THREADS, "image: threads %lu", (unsigned long)nthreads);
    CHECK(npages >= 1 && npages <= MAX_PAGES, "image: pages %lu", (unsigned long)npages);
    CHECK(nobs >= 1 && nobs <= MAX_OBS, "image: observations %lu", (unsigned long)nobs);
    size_t at = 8;
    CHECK(words >= at + npages * 5 + nthreads * 3 + nobs, "image: truncated");
    for (uint64_t i = 0; i < npages; i++, at += 5) {
        pages[i] = (struct page_desc){img[at], img[at + 1], img[at + 2], img[at + 3], img[at + 4]};
        CHECK(pages[i].kind <= PK_FILE_PRIVATE && pages[i].va % PAGE == 0, "image: page %lu", (unsigned long)i);
    }
    for (uint64_t t = 0; t < nthreads; t++, at += 3) {
        threads[t] = (struct thread_desc){img[at], img[at + 1], img[at + 2]};
        CHECK(threads[t].va % PAGE == 0 && threads[t].bytes > 0 && threads[t].bytes <= 16 * PAGE &&
                  threads[t].offset + (threads[t].bytes + 7) / 8 <= words,
              "image: thread %lu", (unsigned long)t);
    }
    for (uint64_t i = 0; i < nobs; i++)
        obs[i] = img[at++];
}

/* map_code: each thread's code at its fixed address, read+execute. */
static void map_code(const uint64_t *img)
{
    code_lo = UINT64_MAX, code_hi = 0;
    for (uint64_t t = 0; t < nthreads; t++) {
        size_t len = (threads[t].bytes + PAGE - 1) & ~(PAGE - 1);
        void *p = mmap((void *)threads[t].va, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        CHECK(p == (void *)threads[t].va, "map code of P%lu at %#lx: %s", (unsigned long)t, (unsigned long)threads[t].va, strerror(errno));
        memcpy(p, img + threads[t].offset, threads[t].bytes);
        CHECK(mprotect(p, len, PROT_READ | PROT_EXEC) == 0, "mprotect code: %s", strerror(errno));
        __builtin___clear_cache(p, (char *)p + len);
        if (threads[t].va < code_lo) code_lo = threads[t].va;
        if (threads[t].va + len > code_hi) code_hi = threads[t].va + len;
        ctl->code_va[t] = threads[t].va;
    }
    ctl->nthreads = (int)nthreads;
    ctl->code_lo = code_lo;
    ctl->code_hi = code_hi;
}

/* setup_pages: the initial state of one run (file rewritten, every page mapped afresh). */
static int setup_pages(void)
{
    int fd0 = open(FILE_NAME, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd0 >= 0, "open %s: %s", FILE_NAME, strerror(errno));
    /* Test code maps the file with `mmap PAGE file@N`: it finds it open on LITMUS_FD. */
    int fd = dup2(fd0, LITMUS_FD);
    CHECK(fd == LITMUS_FD, "dup2: %s", strerror(errno));
    close(fd0);
    uint64_t file_pages = 0;
    for (uint64_t i = 0; i < npages; i++)
        if (pages[i].kind == PK_FILE || pages[i].kind == PK_FILE_PRIVATE)
            if (pages[i].file_page + 1 > file_pages) file_pages = pages[i].file_page + 1;
    CHECK(ftruncate(fd, (off_t)(file_pages * PAGE)) == 0, "ftruncate: %s", strerror(errno));
    for (uint64_t i = 0; i < npages; i++) {
        if (pages[i].kind == PK_FILE || pages[i].kind == PK_FILE_PRIVATE)
            CHECK(pwrite(fd, &pages[i].init, 8, (off_t)(pages[i].file_page * PAGE)) == 8, "pwrite: %s", strerror(errno));
    }
    for (uint64_t i = 0; i < npages; i++) {
        struct page_desc *p = &pages[i];
        void *want = (void *)p->va, *got;
        switch (p->kind) {
        case PK_NONE:
            continue;
        case PK_ANON:
        case PK_SHARED:
            got = mmap(want, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_ANONYMOUS | (p->kind == PK_ANON ? MAP_PRIVATE : MAP_SHARED), -1, 0);
            CHECK(got == want, "mmap page %lu: %s", (unsigned long)i, strerror(errno));
            *(volatile uint64_t *)want = p->init;
            break;
        default:
            got = mmap(want, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED | (p->kind == PK_FILE ? MAP_SHARED : MAP_PRIVATE), fd,
                       (off_t)(p->file_page * PAGE));
            CHECK(got == want, "mmap file page %lu: %s", (unsigned long)i, strerror(errno));
            (void)*(volatile uint64_t *)want; /* populated: the read faults it in */
            break;
        }
        if (p->prot != (PROT_READ | PROT_WRITE))
            CHECK(mprotect(want, PAGE, (int)p->prot) == 0, "mprotect page %lu: %s", (unsigned long)i, strerror(errno));
    }
    return fd;
}

static void wait_children(void)
{
    double deadline = now_s() + WAIT_SECONDS;
    for (;;) {
        int st;
        pid_t r = waitpid(-1, &st, WNOHANG | __WALL);
        if (r < 0 && errno == ECHILD)
            return;
        if (r > 0)
            continue;
        CHECK(now_s() < deadline, "a forked child did not exit within %d s", WAIT_SECONDS);
        sched_yield();
    }
}

/* run_once: one run of the loaded test (code mapped, delays set), its R line printed. */
static void run_once(uint64_t ti, uint64_t run)
{
    int fd = setup_pages();
    for (uint64_t i = 0; i < 2 * MAX_THREADS * SLOT_WORDS; i++)
        slots[i] = 0;
    atomic_store(&ctl->finished, 0);
    atomic_store(&ctl->arrived, 0);
    atomic_store(&ctl->go, 0);
    pthread_t tids[MAX_THREADS];
    for (uint64_t t = 0; t < nthreads; t++)
        CHECK(pthread_create(&tids[t], NULL, thread_main, (void *)(long)t) == 0, "pthread_create failed");
    atomic_store_explicit(&ctl->go, 1, memory_order_release);
    futex(&ctl->go, 1 /* FUTEX_WAKE */, INT32_MAX, NULL);
    double deadline = now_s() + WAIT_SECONDS;
    int f;
    while ((f = atomic_load_explicit(&ctl->finished, memory_order_acquire)) != (int)nthreads) {
        CHECK(now_s() < deadline, "run %lu: a thread did not finish within %d s", (unsigned long)run, WAIT_SECONDS);
        struct timespec ts = {0, 100 * 1000 * 1000};
        futex(&ctl->finished, 0 /* FUTEX_WAIT */, f, &ts);
    }
    for (uint64_t t = 0; t < nthreads; t++)
        pthread_join(tids[t], NULL);
    wait_children();
    /* Memory observations first (through the mappings), then the file after the last unmap. */
    uint64_t file_words[MAX_PAGES] = {0};
    int file_ok[MAX_PAGES] = {0};
    int need_file = 0;
    for (uint64_t i = 0; i < nobs; i++)
        need_file |= (obs[i] >> 32) == OBS_FILE;
    uint64_t mem_vals[MAX_OBS];
    int mem_ok[MAX_OBS];
    for (uint64_t i = 0; i < nobs; i++) {
        uint64_t kind = obs[i] >> 32, a = (obs[i] >> 16) & 0xffff;
        if (kind == OBS_MEM && a < npages) {
            int f;
            mem_vals[i] = probe_word(pages[a].va, &f);
            mem_ok[i] = !f;
        }
    }
    for (uint64_t i = 0; i < npages; i++)
        CHECK(munmap((void *)pages[i].va, PAGE) == 0, "munmap page %lu: %s", (unsigned long)i, strerror(errno));
    close(fd);
    if (need_file) {
        fd = open(FILE_NAME, O_RDONLY);
        CHECK(fd >= 0, "reopen %s: %s", FILE_NAME, strerror(errno));
        for (uint64_t i = 0; i < npages; i++)
            if (pages[i].kind == PK_FILE || pages[i].kind == PK_FILE_PRIVATE)
                file_ok[i] = pread(fd, &file_words[i], 8, (off_t)(pages[i].file_page * PAGE)) == 8;
        close(fd);
    }
    char line[MAX_OBS * 20];
    int n = snprintf(line, sizeof line, "R %lu %lu", (unsigned long)ti, (unsigned long)run);
    for (uint64_t i = 0; i < nobs; i++) {
        uint64_t kind = obs[i] >> 32, a = (obs[i] >> 16) & 0xffff, b = obs[i] & 0xffff;
        int child = kind == OBS_CHILD_REG || kind == OBS_CHILD_FAULT;
        volatile uint64_t *slot = slots + (a % MAX_THREADS + (child ? MAX_THREADS : 0)) * SLOT_WORDS;
        int absent = 0;
        uint64_t v = 0;
        if (kind == OBS_REG || kind == OBS_CHILD_REG) {
            absent = slot[32] == 0 || b >= 32;
            v = absent ? 0 : slot[b];
        } else if (kind == OBS_FAULT || kind == OBS_CHILD_FAULT) {
            absent = slot[32] == 0;
            v = slot[32] == ST_FAULT ? slot[33] : 0;
        } else if (kind == OBS_MEM) {
            absent = a >= npages || !mem_ok[i];
            v = absent ? 0 : mem_vals[i];
        } else if (kind == OBS_FILE) {
            absent = a >= npages || !file_ok[a];
            v = absent ? 0 : file_words[a];
        } else {
            fail("image: observation kind %lu", (unsigned long)kind);
        }
        if (absent)
            n += snprintf(line + n, sizeof line - (size_t)n, " F");
        else
            n += snprintf(line + n, sizeof line - (size_t)n, " %lx", (unsigned long)v);
    }
    printf("%s\n", line);
    fflush(stdout);
}

static void run_child(int argc, char **argv);

/*
 * run_test: every run of the loaded test `ti` (image file `image`), each in a process of its
 * own, started with posix_spawn (vfork + exec: this process's pages are never made
 * copy-on-write, so no policy can make a run scribble on the harness). A run that dies or
 * wedges is reported as "X <test> <run> <why>" and the next run goes on.
 */
static void run_test(const char *self, uint64_t ti, const char *image)
{
    uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (uint64_t run = 0; run < runs; run++) {
        char a_ti[24], a_run[24], a_delay[MAX_THREADS][24];
        snprintf(a_ti, sizeof a_ti, "%lu", (unsigned long)ti);
        snprintf(a_run, sizeof a_run, "%lu", (unsigned long)run);
        char *args[6 + MAX_THREADS] = {(char *)self, "--run", a_ti, a_run, (char *)image};
        for (uint64_t t = 0; t < nthreads; t++) {
            snprintf(a_delay[t], sizeof a_delay[t], "%lu", (unsigned long)(max_delay ? rng_below(&rng, max_delay + 1) : 0));
            args[5 + t] = a_delay[t];
        }
        fflush(stdout);
        pid_t pid;
        if (use_fork) {
            /* --fork (qemu-user, which cannot exec a riscv64 file): the run in a forked child. */
            pid = fork();
            CHECK(pid >= 0, "fork: %s", strerror(errno));
            if (pid == 0) {
                int n = 5 + (int)nthreads;
                args[n] = NULL;
                run_child(n, args);
                _exit(0);
            }
        } else {
            int e = posix_spawn(&pid, self, NULL, NULL, args, environ);
            CHECK(e == 0, "posix_spawn %s: %s", self, strerror(e));
        }
        double deadline = now_s() + 2 * WAIT_SECONDS;
        int st = 0, killed = 0;
        for (;;) {
            pid_t r = waitpid(pid, &st, WNOHANG);
            if (r == pid)
                break;
            CHECK(r == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
            if (!killed && now_s() > deadline) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            sleep_ms(1);
        }
        if (killed)
            printf("X %lu %lu wedged: killed after %d s\n", (unsigned long)ti, (unsigned long)run, 2 * WAIT_SECONDS);
        else if (WIFSIGNALED(st))
            printf("X %lu %lu killed by signal %d\n", (unsigned long)ti, (unsigned long)run, WTERMSIG(st));
        else if (WEXITSTATUS(st) != 0)
            printf("X %lu %lu exit status %d\n", (unsigned long)ti, (unsigned long)run, WEXITSTATUS(st));
    }
}

/* run_child: `litmus --run <test> <run> <image> <delay>...` — one run (started by run_test). */
static void run_child(int argc, char **argv)
{
    main_pid = (pid_t)syscall(SYS_getpid);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0 && sigaction(SIGBUS, &sa, NULL) == 0, "sigaction: %s", strerror(errno));
    CHECK(argc >= 5, "usage: litmus --run <test> <run> <image> <delay>...");
    size_t words;
    uint64_t *img = load_image(argv[4], &words);
    parse_image(img, words);
    CHECK((uint64_t)argc == 5 + nthreads, "--run: %lu delays expected", (unsigned long)nthreads);
    for (uint64_t t = 0; t < nthreads; t++)
        ctl->delays[t] = strtoull(argv[5 + t], NULL, 0);
    map_code(img);
    run_once(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
}

int main(int argc, char **argv)
{
    guest_start("litmus");
    CHECK(argc >= 2, "usage: litmus <image>...");
    main_pid = (pid_t)syscall(SYS_getpid);
    slots = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(slots != MAP_FAILED, "mmap slots: %s", strerror(errno));
    ctl = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(ctl != MAP_FAILED, "mmap control: %s", strerror(errno));
    if (strcmp(argv[1], "--run") == 0) {
        run_child(argc, argv);
        return 0;
    }
    int first = 1;
    if (strcmp(argv[1], "--fork") == 0)
        use_fork = 1, first = 2;
    for (int i = first; i < argc; i++) {
        size_t words;
        uint64_t *img = load_image(argv[i], &words);
        parse_image(img, words);
        free(img);
        run_test(argv[0], (uint64_t)(i - first), argv[i]);
    }
    ok();
}
