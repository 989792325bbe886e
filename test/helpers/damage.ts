import fs from 'node:fs';

/**
 * A disk fault or a hand: `bytes` bytes in the middle of the file inverted in place (same size and inode: a
 * generation file and its B{code}.SVG link are damaged together), so its SHA-256 and its frames no longer match.
 */
export function damageInPlace(file: string, bytes = 4): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const at = Math.floor(fs.fstatSync(fd).size / 2);
    const old = Buffer.alloc(bytes);
    fs.readSync(fd, old, 0, bytes, at);
    fs.writeSync(fd, Buffer.from(old.map((b) => b ^ 0xff)), 0, bytes, at);
  } finally {
    fs.closeSync(fd);
  }
}
