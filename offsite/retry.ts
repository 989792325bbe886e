import type { S3ClientConfig } from '@aws-sdk/client-s3';

type RetryStrategy = Extract<NonNullable<S3ClientConfig['retryStrategy']>, { acquireInitialRetryToken: unknown }>;
type RetryToken = Awaited<ReturnType<RetryStrategy['acquireInitialRetryToken']>>;

const MAX_DELAY_MS = 20_000;

/** the SDK's error for a connection on which nothing was sent or received for the handler's socketTimeout */
export function isSilence(err: unknown): boolean {
  return /\btimed out after \d+ ms of inactivity\b/.test(String((err as { message?: string } | undefined)?.message ?? ''));
}

/**
 * The S3 client's retries of one request: a dropped or refused connection, a 5xx, a throttling answer are sent
 * again, up to `maxAttempts`, after a random wait that doubles (the SDK's standard rules); a request the storage
 * left silent is not: a server that said nothing for the whole idle timeout is not expected to answer the next
 * one, and three waits would make a silent storage cost three times the timeout per request. The callers retry
 * later (the batch's copy tries, the next verification or prune).
 */
export function s3RetryStrategy(maxAttempts: number): RetryStrategy {
  const token = (count: number, delay: number): RetryToken => ({ getRetryCount: () => count, getRetryDelay: () => delay });
  return {
    acquireInitialRetryToken: () => Promise.resolve(token(0, 0)),
    refreshRetryTokenForRetry(previous, info) {
      const count = previous.getRetryCount() + 1;
      const retryable = info.errorType === 'TRANSIENT' || info.errorType === 'THROTTLING';
      // the SDK then throws the request's own error: this one is never shown
      if (!retryable || count >= maxAttempts || isSilence(info.error)) return Promise.reject(new Error('not retried'));
      const base = info.errorType === 'THROTTLING' ? 1_000 : 100;
      return Promise.resolve(token(count, Math.floor(Math.random() * Math.min(base * 2 ** (count - 1), MAX_DELAY_MS))));
    },
    recordSuccess: () => {},
  };
}
