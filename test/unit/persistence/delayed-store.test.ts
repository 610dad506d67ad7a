/**
 * The DelayedStore conformance suite (test/helpers/delayed-store-suite.ts) for every backend.
 */

import { MemoryDelayedStore } from '../../../src/persistence/memory/delayed.js';
import { runDelayedStoreSuite } from '../../helpers/delayed-store-suite.js';

runDelayedStoreSuite('memory', () => new MemoryDelayedStore<string>());
