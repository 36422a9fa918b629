// The whole coherence conformance suite again with interpreting harts (`jit: false`): machines
// translate by default (cpu/jit.ts, docs/jit.md), so conformance.test.ts runs translated and
// this file keeps the interpreter, the reference, under the same cases, policies, hart counts
// and assertions. jit-off.ts sets the runGuest default first (imports are evaluated in order).
import './jit-off.ts';
import './conformance.test.ts';
