import { parseWorkerConfig } from '../workers/env.js';
import { runWorkerProcess } from '../workers/main.js';

/** `npm run worker`: the BullMQ metrics workers (settings: workers/env.ts). */
try {
  await runWorkerProcess(parseWorkerConfig(process.env));
} catch (err) {
  console.error(
    JSON.stringify({
      level: 'error',
      msg: 'worker failed to start',
      time: new Date().toISOString(),
      error: (err as Error).message ?? String(err),
    }),
  );
  process.exit(1);
}
