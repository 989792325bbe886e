/**
 * What a message may quote of a URL: never its password. One definition for the configuration's refusals, doctor's
 * report and the addresses `dev` prints.
 */

/** The query parameters of a libpq / node-postgres URL that carry a secret (or the path of one). */
export const SECRET_URL_PARAMS = ['password', 'sslpassword', 'sslkey'];
export const REDACTED = '***';

/** A URL without its user-info password and with its secret parameters as ***; one that does not parse is not quoted. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    for (const name of [...u.searchParams.keys()]) if (SECRET_URL_PARAMS.includes(name.toLowerCase())) u.searchParams.set(name, REDACTED);
    return u.toString().replaceAll(encodeURIComponent(REDACTED), REDACTED);
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Every URL in a text, parsable or not, with its user-info password (up to the last `@` of the word: a password may
 * hold an unencoded `@` or `/`) and its secret parameters as ***.
 */
export function redactUrlSecrets(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)(\S*)@/gi, (whole, scheme: string, userInfo: string) => {
      const colon = userInfo.indexOf(':');
      return colon < 0 ? whole : `${scheme}${userInfo.slice(0, colon)}:${REDACTED}@`;
    })
    .replace(new RegExp(`([?&](?:${SECRET_URL_PARAMS.join('|')})=)[^&#\\s"']*`, 'gi'), `$1${REDACTED}`);
}
