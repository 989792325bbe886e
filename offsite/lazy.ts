import type { OffsiteSettings } from '../config/config';
import type { OffsiteStore, OffsiteStoreOptions } from './store';

/**
 * The worker's store: built on first use from the configuration (nothing is opened, and the AWS SDK's
 * ~20 MB are not even loaded, on a worker that never copies off-site), undefined when no bucket is configured.
 */
const shared = new WeakMap<OffsiteSettings, () => Promise<OffsiteStore | undefined>>();

/**
 * One store (one S3 client, one connection pool) per configuration in this process: the batch's copies, the
 * off-site activity, retention and verification given the same `config.offsite` share it. With `options`
 * (tests: fewer attempts, shorter timeouts), a store of its own.
 */
export function lazyOffsiteStore(settings: OffsiteSettings | undefined, options?: OffsiteStoreOptions): () => Promise<OffsiteStore | undefined> {
  if (!settings) return () => Promise.resolve(undefined);
  if (options) return build(settings, options);
  let get = shared.get(settings);
  if (!get) shared.set(settings, (get = build(settings)));
  return get;
}

function build(settings: OffsiteSettings, options?: OffsiteStoreOptions): () => Promise<OffsiteStore | undefined> {
  let store: Promise<OffsiteStore> | undefined;
  return () => {
    // a failed build (an unreadable secret file) is not kept: the next attempt tries again
    store ??= Promise.resolve()
      // a synchronous require on first use, so that a worker that never copies off-site never loads the SDK
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      .then(() => (require('./store') as typeof import('./store')).createOffsiteStore(settings, options))
      .catch((err: unknown) => {
        store = undefined;
        throw err;
      });
    return store;
  };
}
