#!/usr/bin/env node
// The package registry this project is built from serves only the linux builds of platform-specific
// optional packages (@swc/core-*, @unrs/resolver-binding-*), so npm writes a lock file without the
// others and `npm ci` then refuses it as "out of sync". This adds the entries npm would have written
// (version, os, cpu, optional): npm skips them on linux without fetching anything.
// Run after any `npm install`: node scripts/lock-platform-stubs.mjs
import fs from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

const OS = ['darwin', 'linux', 'win32', 'freebsd', 'android', 'openharmony', 'sunos', 'aix', 'netbsd', 'openbsd'];
const CPU = { x64: 'x64', ia32: 'ia32', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', wasm32: 'wasm32' };

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => p in CPU);
  const libc = parts.find((p) => p === 'gnu' || p === 'musl' || p === 'gnueabihf' || p === 'musleabihf');
  return { os, cpu, libc: libc?.startsWith('musl') ? 'musl' : libc ? 'glibc' : undefined };
}

let added = 0;
for (const [key, meta] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const prefix = key ? `${key}/node_modules/` : 'node_modules/';
    const candidates = [`${prefix}${dep}`, `node_modules/${dep}`];
    if (candidates.some((c) => packages[c])) continue;
    const { os, cpu, libc } = platformOf(dep);
    if (!os && !cpu) continue; // not a platform package: leave it to npm
    const entry = { version: version.replace(/^[\^~=]/, ''), optional: true };
    if (cpu) entry.cpu = [cpu];
    if (libc) entry.libc = [libc];
    if (os) entry.os = [os];
    packages[`node_modules/${dep}`] = entry;
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-platform-stubs: ${added} platform entries added`);
