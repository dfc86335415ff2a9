import { migrateAll } from '../db/platform.js';
import { loadEnv, run } from './cli.js';

/** `npm run db:migrate`: the control plane, the template, the pool and every dedicated branch. */
await run(async () => {
  const env = loadEnv();
  const report = await migrateAll(env, (line) => console.log(line));
  const applied = report.reduce((n, r) => n + r.applied, 0);
  console.log(`${report.length} databases current; ${applied} migrations applied`);
}, 'usage: npm run db:migrate');
