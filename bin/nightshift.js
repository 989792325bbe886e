#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx): no build step between a checkout and a working CLI.
require('tsx/cjs');
require('../cli/main.ts').main(process.argv);
