import { inspect } from 'node:util';

/**
 * A value that must never reach a log, an error or a JSON dump (the S3 secret key): printing,
 * inspecting or serialising it gives `[redacted]`; only `reveal()` gives the value, at the one place
 * that hands it to the S3 client.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}
