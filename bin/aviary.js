#!/usr/bin/env node
// The `aviary` command; the code is in src/cli (built to dist/cli).
import { main } from '../dist/cli/aviary.js';

await main(process.argv);
