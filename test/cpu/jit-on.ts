// Imported first by test/cpu/jit-hart-files.test.ts: the hart harness builds translating harts.
import { hartDefaults } from './hart-harness.ts';

hartDefaults.jit = true;
hartDefaults.jitThreshold = 1;
