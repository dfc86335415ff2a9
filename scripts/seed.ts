import { userInfo } from 'node:os';
import { createTenant, tenantBranchOwner } from '../db/platform.js';
import { PlatformError } from '../db/tenants/errors.js';
import {
  DEFAULT_SEED,
  PRESETS,
  SeedRefusedError,
  createProgress,
  formatSummary,
  isPresetName,
  resolveAsOf,
  seedTenant,
} from '../db/seed/index.js';
import { DateFormat } from '../db/seed/dates.js';
import { args, loadEnv, run, UsageError } from './cli.js';

/** `npm run seed`: deterministic synthetic data for one tenant, bulk-loaded with COPY. */
const USAGE = `usage: npm run seed -- --preset small|school|demo|large [--tenant SLUG] [--seed N] [--as-of YYYY-MM-DD] [--replace]
  without --tenant, seeds tenant "seed-<preset>" and creates it first if it does not exist`;

await run(async () => {
  const { values, positionals } = args(process.argv.slice(2), {
    preset: { type: 'string' },
    tenant: { type: 'string' },
    seed: { type: 'string' },
    'as-of': { type: 'string' },
    replace: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const preset = values.preset;
  if (!preset) throw new UsageError('--preset is required');
  if (!isPresetName(preset)) throw new UsageError('--preset must be small, school, demo or large');
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  if (!/^\d+$/.test(values.seed ?? '0') || !Number.isSafeInteger(seed) || seed > 0xffffffff) {
    throw new UsageError('--seed must be an integer between 0 and 4294967295');
  }
  let asOf: string;
  try {
    asOf = new DateFormat().date(resolveAsOf(values['as-of']));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }

  const env = loadEnv();
  const slug = values.tenant ?? `seed-${preset}`;
  let target = await tenantBranchOwner(env, slug);
  if (!target) {
    if (values.tenant) throw new PlatformError('tenant_not_found', `no tenant "${slug}"`);
    const created = await createTenant(env, {
      slug,
      name: `Seed network (${preset})`,
      domains: [`${slug}.localhost`],
      placement: 'pool',
      adminEmail: `admin@${slug}.example.org`,
      adminPassword: PRESETS[preset].password,
      adminName: 'Seed Administrator',
      actor: `cli:${userInfo().username}`,
    });
    console.log(
      `created tenant ${slug} (${created.id}) on ${created.placement} branch ${created.branch}`,
    );
    target = await tenantBranchOwner(env, slug);
    if (!target) throw new Error(`tenant ${slug} vanished after creation`);
  }

  console.log(`seeding ${slug} with preset ${preset} (seed ${seed}, as-of ${asOf})`);
  let report;
  try {
    report = await seedTenant({
      ownerUrl: target.ownerUrl,
      tenantId: target.tenantId,
      preset,
      seed,
      asOf,
      replace: values.replace,
      progress: createProgress(process.stdout),
    });
  } catch (err) {
    // A refusal is the operator's call, not a failure: one line, exit status 1.
    if (err instanceof SeedRefusedError)
      throw new PlatformError('invalid_input', `${slug}: ${err.message}`);
    throw err;
  }
  console.log(`\n${formatSummary(report)}\n`);
  console.log(`demo logins for ${slug} (as-of ${report.asOf}), password ${report.password}`);
  for (const login of report.logins) console.log(`  ${login.role.padEnd(9)} ${login.email}`);
}, USAGE);
