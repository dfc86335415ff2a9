import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDbEnv, type DbEnv } from '../db/env.js';
import { PlatformError } from '../db/tenants/errors.js';

/** Shared plumbing for the operator CLIs: parsed environment, arguments, one-line errors. */

export function loadEnv(): DbEnv {
  return parseDbEnv(process.env);
}

/** Thrown for a bad command line; printed as one line with the usage hint. */
export class UsageError extends Error {}

export function args<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Runs a CLI body: a refused request or bad usage prints `error: …` on one line and exits
 * 1; anything unexpected prints its message (not a stack) and exits 2.
 */
export async function run(main: () => Promise<void>, usage: string): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}\n${usage}`);
      process.exitCode = 1;
    } else if (err instanceof PlatformError) {
      console.error(`error: ${err.message}`);
      process.exitCode = 1;
    } else {
      console.error(`error: ${(err as Error).message ?? String(err)}`);
      if (process.env.DEBUG) console.error(err);
      process.exitCode = 2;
    }
  }
}
