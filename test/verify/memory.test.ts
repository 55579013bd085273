import { createMemoryStore } from '../../src/drivers/memory.js';
import { verifyMatrix } from './matrix.js';

verifyMatrix('memory ↔ memory', async () => ({ source: createMemoryStore(), target: createMemoryStore(), bytes: true }));
