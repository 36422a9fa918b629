// Worker entry for test/kernel/lab/trace.test.ts: registers tsx so the TypeScript body can load.
import { register } from 'tsx/esm/api';
register();
await import('./trace.worker.ts');
