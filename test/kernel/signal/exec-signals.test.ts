/**
 * execve resets caught signal handlers (Linux flush_signal_handlers), through a real static
 * program that execs itself (test/fixtures/proc/execsig; source and build script in
 * test/fixtures/gen/): after exec a caught SIGUSR1 is SIG_DFL without its flags and mask
 * (and kills a process that raises it), an ignored SIGUSR2 stays ignored, a blocked SIGTERM
 * stays blocked.
 */
import { expect, it } from 'vitest';
import { runFixture } from '../../helpers/fixture-run.ts';

it('exec: caught handlers back to SIG_DFL, ignored kept, mask kept', async () => {
  const r = await runFixture('execsig', 2);
  expect(r.stdout).toBe([
    'execsig: handler installed, exec',
    'execsig: after exec: USR1 default, USR2 ignored, TERM blocked',
    'execsig: OK',
    '',
  ].join('\n'));
  expect(r.status).toBe(0);
  expect(r.leaked).toBe(0);
}, 30_000);
