/*
 * Native Linux figures for bench/vm.ts: the same VM operations measured on the host kernel.
 * Prints one line per figure: "<name> <microseconds>". Build: gcc -O2 -o vm vm.c
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096L

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static char *map(long bytes) {
  char *p = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { perror("mmap"); exit(1); }
  madvise(p, bytes, MADV_NOHUGEPAGE);
  return p;
}

static void touch(char *p, long bytes) {
  for (long o = 0; o < bytes; o += PAGE) p[o] = 1;
}

/* best of `rounds`: demand-zero write fault per page */
static double demand_zero(long pages, int rounds) {
  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    char *p = map(pages * PAGE);
    double t0 = now_us();
    touch(p, pages * PAGE);
    double t = (now_us() - t0) / pages;
    if (t < best) best = t;
    munmap(p, pages * PAGE);
  }
  return best;
}

/* COW write fault per page, measured in a forked child, reported through a pipe */
static double cow_fault(long pages, int rounds) {
  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    char *p = map(pages * PAGE);
    touch(p, pages * PAGE);
    int fd[2];
    if (pipe(fd)) exit(1);
    pid_t pid = fork();
    if (pid == 0) {
      double t0 = now_us();
      for (long o = 0; o < pages * PAGE; o += PAGE) p[o] = 2;
      double t = (now_us() - t0) / pages;
      if (write(fd[1], &t, sizeof t) != sizeof t) _exit(1);
      _exit(0);
    }
    double t;
    if (read(fd[0], &t, sizeof t) != sizeof t) exit(1);
    waitpid(pid, 0, 0);
    close(fd[0]);
    close(fd[1]);
    if (t < best) best = t;
    munmap(p, pages * PAGE);
  }
  return best;
}

/* fork() latency in the parent with `bytes` resident */
static double fork_latency(long bytes, int rounds) {
  char *p = map(bytes);
  touch(p, bytes);
  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    double t0 = now_us();
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    double t = now_us() - t0;
    waitpid(pid, 0, 0);
    if (t < best) best = t;
  }
  munmap(p, bytes);
  return best;
}

/* one mmap + touch every page + munmap */
static double map_touch_unmap(long pages, int rounds) {
  double t0 = now_us();
  for (int r = 0; r < rounds; r++) {
    char *p = mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    touch(p, pages * PAGE);
    munmap(p, pages * PAGE);
  }
  return (now_us() - t0) / rounds;
}

int main(void) {
  printf("demand_zero_fault %.3f\n", demand_zero(4096, 5));
  printf("cow_fault %.3f\n", cow_fault(4096, 5));
  printf("fork_1mib %.3f\n", fork_latency(1L << 20, 20));
  printf("fork_64mib %.3f\n", fork_latency(64L << 20, 10));
  printf("mmap_touch_munmap_1 %.3f\n", map_touch_unmap(1, 20000));
  printf("mmap_touch_munmap_16 %.3f\n", map_touch_unmap(16, 5000));
  return 0;
}
