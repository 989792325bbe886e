import { z } from 'zod';

/**
 * One e-mail address as an SMTP server takes it (RFC 5321 §4.5.3.1): at most 254 characters, at most 64 before the @.
 * Longer ones passed zod's format and were stored, then every mail to them was refused by the server (drill C: `421
 * Command line too long`, `501 Bad recipient address`), retried for a day, and nobody was told of the failed batch.
 */
export function emailAddressSchema(formatMessage: string | ((input: string) => string)) {
  return z
    .email({ error: (iss) => (typeof formatMessage === 'string' ? formatMessage : formatMessage(String(iss.input))) })
    .max(254, 'an e-mail address has at most 254 characters (RFC 5321)')
    .refine((v) => v.lastIndexOf('@') <= 64, { message: 'an e-mail address has at most 64 characters before its @ (RFC 5321)' });
}
