// Worker entry for test/cpu/hart-smp.test.ts: registers tsx so the TypeScript body can load.
import { register } from 'tsx/esm/api';
register();
await import('./hart-smp.worker.ts');
