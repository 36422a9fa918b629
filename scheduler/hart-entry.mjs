// Piscina worker entry of a hart. Workers must run TypeScript without a build step:
// register tsx's ESM loader in this worker, then load the real worker module.
// Works under `tsx` and under vitest alike.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./hart-worker.ts');
export default mod.default;
