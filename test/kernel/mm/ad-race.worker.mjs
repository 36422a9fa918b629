// Worker entry for test/kernel/mm/ad-race.test.ts: registers tsx so the TypeScript body can load.
import { register } from 'tsx/esm/api';
register();
await import('./ad-race.worker.ts');
