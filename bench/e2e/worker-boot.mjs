// Entry of a load generator worker thread. Worker threads do not inherit tsx's loader from
// `node --import tsx`, so this plain-JS file registers it, then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
