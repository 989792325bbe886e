/**
 * Compile-time check (never bundled): every workflow the worker registers (workflows/index.ts) has exactly
 * the name and signature that workflows/contracts.ts promises to the starts, the CLI, the gate and the
 * tests, and the contracts list no workflow that is not registered. A drift fails `tsc`.
 */
import type * as registered from './index';
import type { WORKFLOW, Workflows } from './contracts';

/** Identical types (not only mutually assignable: an optional field added or dropped is a drift too). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;

type Registered = { [K in keyof typeof registered]: (typeof registered)[K] };

export type Contracts = [
  // the same names, both ways
  Assert<Same<keyof Registered, keyof Workflows>>,
  // each registered function has its contract's signature
  Assert<Same<{ [K in keyof Workflows]: Same<Registered[K], Workflows[K]> }, { [K in keyof Workflows]: true }>>,
  // WORKFLOW names every one of them
  Assert<Same<(typeof WORKFLOW)[keyof typeof WORKFLOW], keyof Workflows>>,
];
