// Imported first by test/stress/conformance-interp.test.ts: every runGuest boots interpreting harts.
import { guestRunDefaults } from './guest-runs.ts';

guestRunDefaults.jit = false;
