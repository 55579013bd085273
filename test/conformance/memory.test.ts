import { createMemoryStore } from '../../src/drivers/memory.js';
import { runConformance } from './suite.js';

runConformance('memory', { factory: async () => createMemoryStore() });
