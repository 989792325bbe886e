#!/usr/bin/env node
// Runs one TypeScript file (benchmarks, scripts) with the same loader as the CLI.
require('tsx/cjs');
const path = require('node:path');
const file = process.argv[2];
if (!file) { console.error('usage: run-ts.js FILE.ts [args]'); process.exit(2); }
process.argv.splice(1, 2, path.resolve(file));
require(path.resolve(file));
