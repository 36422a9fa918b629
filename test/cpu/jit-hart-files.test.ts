// Every hart test file again with the translator on and a compile threshold of 1: each block
// is translated the first time it runs, so the compiled code (cpu/jit.ts) — not the
// interpreter — executes nearly every instruction of these tests. The files are the same
// modules the interpreter run uses; jit-on.ts sets their harness defaults first (imports
// are evaluated in order).
import './jit-on.ts';
import './hart-alu.test.ts';
import './hart-mem.test.ts';
import './hart-control.test.ts';
import './hart-amo.test.ts';
import './hart-smp.test.ts';
import './hart-tearing.test.ts';
import './rvc-equivalence.test.ts';
