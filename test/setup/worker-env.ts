/**
 * Runs in each Jest worker before its test files: NS_TEST_TEMPORAL_ADDRESS becomes this worker's
 * own dev server (global-setup.ts starts one per worker), so files running at the same moment never
 * share workflow ids. JEST_WORKER_ID counts from 1 up to maxWorkers.
 */
const own = process.env[`NS_TEST_TEMPORAL_ADDRESS_${process.env.JEST_WORKER_ID ?? '1'}`];
if (own) process.env.NS_TEST_TEMPORAL_ADDRESS = own;
