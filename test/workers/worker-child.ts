/**
 * A worker process for the signal and kill tests: the real `runWorkerProcess` with its
 * settings from the environment, plus a test hook that holds each refresh open inside its
 * warehouse transaction after one table, saying so on stdout.
 * Env: HOLD_AFTER_TABLE=<table> HOLD_MS=<ms>|forever (unset: no hold).
 */
import { parseWorkerConfig } from '../../workers/env.js';
import { runWorkerProcess } from '../../workers/main.js';

const table = process.env.HOLD_AFTER_TABLE;
const holdMs = process.env.HOLD_MS ?? '0';

await runWorkerProcess(parseWorkerConfig(process.env), {
  ...(table
    ? {
        afterTable: async (t: string) => {
          if (t !== table) return;
          process.stdout.write(`holding after ${t}\n`);
          await new Promise((resolve) => {
            if (holdMs !== 'forever') setTimeout(resolve, Number(holdMs));
          });
        },
      }
    : {}),
});
