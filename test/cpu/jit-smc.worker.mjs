// Worker entry for test/cpu/jit-smc.test.ts: registers tsx so the TypeScript body can load.
import { register } from 'tsx/esm/api';
register();
await import('./jit-smc.worker.ts');
