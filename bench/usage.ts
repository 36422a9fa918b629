/** A benchmark's bad option or value: bench/index.ts prints the message alone and exits 2 (no stack trace). */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}
