import { ApplicationFailure } from '@temporalio/common';
import { FailureType, permanentFailure } from '../domain/failures';

/**
 * One S3 error → one typed failure. Refused credentials and a missing bucket are permanent (a retry
 * cannot mend them: the operator must); a dead, reset or overloaded server is retryable
 * (OffsiteUnavailable). Messages name the bucket, the endpoint and the S3 error code, never a
 * credential: `scrub` removes the key id and secret from any text the server or the SDK wrote, and
 * the SDK's error (whose request carries the signed headers) is not kept as the cause.
 */

const CREDENTIAL_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidClientTokenId',
  'AuthorizationHeaderMalformed',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
  'AllAccessDisabled',
  'AccountProblem',
  // S3-compatible servers' own words for an unknown key (versitygw answers it with HTTP 404)
  'XAdminUserNotFound',
]);
const BUCKET_CODES = new Set(['NoSuchBucket', 'InvalidBucketName', 'PermanentRedirect']);

export interface FailureContext {
  /** what was being done: "uploading nightshift/main/D1/BD1.SVG" */
  doing: string;
  bucket: string;
  endpoint: string;
  /** texts to cut out of any message (the access key id, the secret) */
  secrets: string[];
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
  cause?: unknown;
}

export function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out.replace(/[\r\n]+/g, ' ').slice(0, 300);
}

/** The S3 error code (InvalidAccessKeyId), or the network one (ECONNREFUSED), or the error's name. */
export function errorCode(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const s = e as SdkErrorShape;
    if (typeof s.code === 'string' && s.code) return s.code;
    if (typeof s.Code === 'string' && s.Code) return s.Code;
    if (s.$metadata && typeof s.name === 'string') return s.name;
    if (s.cause === undefined) return typeof s.name === 'string' ? s.name : 'Error';
    e = s.cause;
  }
  return 'Error';
}

/** The HTTP handler's own timeouts carry no errno and a long text: what did not come, in how long. */
function timeoutText(message: string): string | undefined {
  const seconds = (ms: string) => `${Number(ms) / 1000} s`;
  const connect = /did not establish a connection with the server within the configured timeout of (\d+) ms/.exec(message);
  if (connect) return `timed out: no connection within ${seconds(connect[1]!)}`;
  const idle = /timed out after (\d+) ms of inactivity/.exec(message);
  if (idle) return `timed out: nothing sent or received for ${seconds(idle[1]!)}`;
  return undefined;
}

export function isCancellation(err: unknown): boolean {
  return !!err && typeof err === 'object' && ((err as SdkErrorShape).name === 'AbortError' || (err as SdkErrorShape).name === 'CancelledFailure');
}

export function offsiteFailure(err: unknown, ctx: FailureContext): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  // the SDK wraps an error of another realm (Node's own, seen from a vm context such as Jest's) in a plain Error
  // whose message alone names the errno: "AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:9000"
  const message = String((err as SdkErrorShape | undefined)?.message ?? err).replace(/^AWS SDK error wrapper for (Error: )?/, '');
  let code = errorCode(err);
  if (code === 'Error') code = /\b(E[A-Z]{3,})\b/.exec(message)?.[1] ?? code;
  const timedOut = timeoutText(message);
  if (timedOut) code = 'ETIMEDOUT';
  const status = (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
  const said = timedOut ?? scrub(message, ctx.secrets);
  const where = `bucket ${ctx.bucket} at ${ctx.endpoint}`;
  const http = status ? `, HTTP ${status}` : '';
  if (CREDENTIAL_CODES.has(code) || status === 401 || status === 403) {
    return permanentFailure(
      FailureType.OffsiteCredentialsRejected,
      `off-site storage refused the credentials while ${ctx.doing} (${code}${http}, ${where}): check NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID and its secret key, and the key's rights on the bucket`,
    );
  }
  if (BUCKET_CODES.has(code)) {
    return permanentFailure(FailureType.OffsiteBucketMissing, `off-site storage has no usable bucket while ${ctx.doing} (${code}${http}, ${where}): create it, or fix NIGHTSHIFT_OFFSITE_S3_BUCKET / _REGION`);
  }
  return ApplicationFailure.create({
    type: FailureType.OffsiteUnavailable,
    nonRetryable: false,
    message: `off-site storage failed while ${ctx.doing} (${code}${http}, ${where}): ${said}`,
  });
}

/** A copy read whole whose bytes the storage's own checksum refuses (a damaged object): no retry reads it better. */
export class OffsiteCopyDamaged extends Error {}
