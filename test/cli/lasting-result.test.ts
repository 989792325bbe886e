import { Metadata } from '@grpc/grpc-js';
import { ServiceError } from '@temporalio/client';
import { followProgress, lastingResult, withTemporal } from '../../cli/context';
import { requireEnv } from '../helpers/env';

/**
 * Drill F: `backup run --wait` crashed after its batch had succeeded ("Channel has been shut down", exit 1: a progress
 * query's gRPC retry fired after the connection closed), and `backup verify --wait` exited 1 on a DEADLINE_EXCEEDED of
 * its long poll while the verification went on and finished by itself.
 */

/** The error @grpc/grpc-js gives a call cut by the server (its shape: code, details, metadata), as the client wraps it. */
function cutCall(code: number, details: string): ServiceError {
  const grpc = Object.assign(new Error(`${code} ${details}`), { code, details, metadata: new Metadata() });
  return new ServiceError('Failed to get workflow result', { cause: grpc });
}

test('lastingResult: a long poll cut by Temporal (DEADLINE_EXCEEDED, UNAVAILABLE) is said on stderr and asked again; the result comes through', async () => {
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    let calls = 0;
    const result = await lastingResult(async () => {
      calls++;
      if (calls === 1) throw cutCall(4, 'DEADLINE_EXCEEDED: stream terminated by RST_STREAM with error code: CANCEL');
      return 'done';
    }, 'the verification');
    expect({ result, calls }).toEqual({ result: 'done', calls: 2 });
    expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringMatching(/^still waiting: Temporal did not answer \(.*DEADLINE_EXCEEDED.*\); the verification goes on, asking again every 5 s\n$/),
    ]);
  } finally {
    stderr.mockRestore();
  }
}, 20_000);

test("lastingResult: the workflow's own failure (or any other error) is its outcome, rethrown at once", async () => {
  const failure = new Error('backup run 3 partial');
  await expect(lastingResult(() => Promise.reject(failure))).rejects.toBe(failure);
  // NOT_FOUND is an answer, not an outage
  await expect(lastingResult(() => Promise.reject(cutCall(5, 'NOT_FOUND: workflow not found')))).rejects.toBeInstanceOf(ServiceError);
});

test('withTemporal closes its connection only once a progress query in flight has settled (its retry would throw outside any handler)', async () => {
  process.env.TEMPORAL_ADDRESS = requireEnv('NS_TEST_TEMPORAL_ADDRESS');
  process.env.DATABASE_URL ??= 'postgres://nobody@127.0.0.1:1/none';
  let settled = false;
  await withTemporal(async () => {
    const stop = followProgress(
      () =>
        new Promise<string>((resolve) =>
          setTimeout(() => {
            settled = true;
            resolve('x');
          }, 1_500),
        ),
      String,
      { tty: false },
    );
    // the first query starts at 1 s; the command ends while it is in flight
    await new Promise((r) => setTimeout(r, 1_100));
    stop();
  });
  expect(settled).toBe(true);
});
