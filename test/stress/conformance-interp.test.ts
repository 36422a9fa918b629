// Soak (`npm run stress`): the whole coherence conformance suite again with interpreting harts
// (`jit: false`), kept out of `npm test` for its ~6 minutes (the hart test files run both ways
// there: test/cpu/jit-hart-files.test.ts). Machines
// translate by default (cpu/jit.ts, docs/jit.md), so conformance.test.ts runs translated and
// this file keeps the interpreter, the reference, under the same cases, policies, hart counts
// and assertions. jit-off.ts sets the runGuest default first (imports are evaluated in order).
import '../lab/jit-off.ts';
import '../lab/conformance.test.ts';
