/** Every bundled guest on a 4-hart machine (test/guests/run-harness.ts says what is checked). */
import { guestSuite } from './run-harness.ts';

guestSuite(4);
