// Worker entry for test/kernel/vm-ad-race.test.ts: registers tsx so the TypeScript body can load.
import { register } from 'tsx/esm/api';
register();
await import('./vm-ad-race.worker.ts');
