/**
 * A read shared for `ms` per key: callers within that time get the same promise (a failed read too, until it is
 * old), so a burst of requests costs one database round trip per key and second. The gate's readiness and its
 * window refusal over the login limit both read this way.
 */
export function cachedFor<K, V>(ms: number, read: (key: K) => Promise<V>): (key: K) => Promise<V> {
  const reads = new Map<K, { at: number; value: Promise<V> }>();
  return (key) => {
    let entry = reads.get(key);
    if (!entry || performance.now() - entry.at > ms) {
      entry = { at: performance.now(), value: read(key) };
      reads.set(key, entry);
    }
    return entry.value;
  };
}
