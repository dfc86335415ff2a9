import { and, eq, inArray, isNull } from 'drizzle-orm';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { newApp } from '../api/app.js';
import { parseApiConfig } from '../api/env.js';
import { createNodeServices } from '../api/runtime/node.js';
import { PgliteProvisioner, prepareDatabase, repointBranches } from '../db/branches/pglite.js';
import type { BranchProvisioner } from '../db/branches/provisioner.js';
import { startEmbeddedCluster, type EmbeddedCluster } from '../db/embedded/cluster.js';
import { parseDbEnv, type DbEnv } from '../db/env.js';
import { migrateAll, openNode, provisionerFor, tenantBranchOwner } from '../db/platform.js';
import * as controlSchema from '../db/schema/control.js';
import { SeedRefusedError, seedTenant } from '../db/seed/index.js';
import * as tenantSchema from '../db/schema/tenant.js';
import { createTenant } from '../db/tenants/create.js';
import { addDomain } from '../db/tenants/domains.js';
import { PlatformError } from '../db/tenants/errors.js';
import { ControlPlane } from '../workers/control.js';
import { parseWorkerConfig } from '../workers/env.js';
import { createInlineRunner, type InlineRunner } from '../workers/inline.js';
import { createLogger } from '../db/log.js';
import { startWorker, type WorkerHandle } from '../workers/main.js';
import { args, run, UsageError } from './cli.js';
import { banner } from './demo-banner.js';
import { closeServer, listen } from './demo-http.js';
import { demoSsoFrom, ensureDemoSso } from './demo-sso.js';
import { ADMIN_PASSWORD, adminEmail, DEMO_TENANTS, type DemoTenant } from './demo-tenants.js';
import { startDemoMailbox } from './demo-mailbox.js';
import { createInlineMailer, smtpTransport } from '../workers/mail.js';
import type { Services } from '../api/services.js';

/**
 * `npm run demo`: the whole product on one machine. Without DATABASE_URL the databases are
 * embedded PGlite under the data directory; without REDIS_URL refreshes run in this process
 * (the same processor as the BullMQ workers). Creates the demo tenants on first run (later
 * runs reuse them and keep their data; `--reseed` wipes and seeds again), refreshes their
 * metrics, serves the API on Node and prints the URLs and demo logins.
 */
const USAGE = `usage: npm run demo [-- --port N] [--data-dir DIR] [--reseed]
  --port      API port (default PORT or 8787)
  --data-dir  embedded databases and warehouse (default HOMEROOM_DEMO_DIR or .homeroom/demo)
  --reseed    wipe the demo tenants' data and seed it again`;

await run(async () => {
  const { port, dataDir, reseed } = demoArgs();
  const started = performance.now();
  const step = (what: string) =>
    console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${what}`);
  const { stack, stop } = stopOnSignals();

  try {
    const source: Record<string, string | undefined> = {
      ...process.env,
      // A queue of its own: the in-process worker must never take another deployment's jobs
      // from a shared Redis (the API and the worker both read this name).
      METRICS_QUEUE: process.env.METRICS_QUEUE ?? 'demo-metrics',
      MAIL_QUEUE: process.env.MAIL_QUEUE ?? 'demo-mail',
    };
    // Mail goes to the demo's own catcher (shown at /demo/mailbox) unless SMTP_URL says otherwise.
    let services: Services | undefined;
    const mailbox = await startDemoMailbox(() => services!);
    stack.push(() => mailbox.close());
    source.SMTP_URL ??= mailbox.smtpUrl;
    const { env, provisioner, embedded } = await startDatabases(source, dataDir, stack, step);
    const tenants = await seedTenants(env, provisioner, reseed, step);
    const jobs = await startJobs(source, embedded, dataDir, tenants, stack, step);
    const api = await startApi(source, env, tenants, jobs, stack, step);
    services = api.services;
    const app = newApp({ services: () => api.services });
    const servers = await listen(
      async (request) => (await mailbox.handle(request)) ?? app.fetch(request),
      port,
    );
    stack.push(() => Promise.all(servers.map(closeServer)));
    const actualPort = (servers[0]!.address() as { port: number }).port;
    step('API listening');

    const { workerConfig, worker } = jobs;
    console.log(
      banner({
        port: actualPort,
        dataDir: embedded ? dataDir : null,
        controlUrl: env.DATABASE_URL,
        warehouseDir: workerConfig.WAREHOUSE_DIR,
        jobs: worker
          ? `BullMQ queue "${workerConfig.METRICS_QUEUE}" on ${new URL(workerConfig.REDIS_URL).host}, worker in this process`
          : 'in this process (no REDIS_URL)',
        seconds: (performance.now() - started) / 1000,
      }),
    );
  } catch (err) {
    console.error(`error: ${(err as Error).message ?? String(err)}`);
    if (process.env.DEBUG) console.error(err);
    await stop(2);
  }
}, USAGE);

/** Prints one step of the start-up with the seconds since it began. */
type Step = (what: string) => void;

/** What to close on the way out, in reverse order of opening. */
type Stack = (() => Promise<unknown>)[];

/** The command line: port, data directory, --reseed. */
function demoArgs(): { port: number; dataDir: string; reseed: boolean } {
  const { values, positionals } = args(process.argv.slice(2), {
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    reseed: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const port = Number(values.port ?? process.env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError('--port must be a port number');
  }
  const dataDir = resolve(values['data-dir'] ?? process.env.HOMEROOM_DEMO_DIR ?? '.homeroom/demo');
  return { port, dataDir, reseed: values.reseed };
}

/** The close-down stack, and a stop that closes it once (on SIGINT or SIGTERM, or an error). */
function stopOnSignals(): { stack: Stack; stop: (code: number) => Promise<void> } {
  const stack: Stack = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(1), 15_000);
    timer.unref();
    for (const close of stack.reverse()) {
      await close().catch((err: Error) => console.error(`shutdown: ${err.message}`));
    }
    if (code === 0) console.log('stopped');
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // `on`, not `once`: a second Ctrl-C (or the signal relayed by npm or tsx as well as
    // sent to the process group) must not kill the process half-way through closing.
    process.on(signal, () => {
      if (stopping) return;
      console.log(`\n${signal}: stopping`);
      void stop(0);
    });
  }
  return { stack, stop };
}

/**
 * The databases: the embedded cluster when there is no DATABASE_URL (its URL goes into
 * `source`), then the control plane and every branch migrated.
 */
async function startDatabases(
  source: Record<string, string | undefined>,
  dataDir: string,
  stack: Stack,
  step: Step,
): Promise<{ env: DbEnv; provisioner: BranchProvisioner | undefined; embedded: boolean }> {
  let cluster: EmbeddedCluster | null = null;
  let provisioner: BranchProvisioner | undefined;
  const embedded = !process.env.DATABASE_URL;
  if (embedded) {
    cluster = await startCluster(dataDir);
    stack.push(() => cluster!.close());
    Object.assign(source, {
      DATABASE_URL: cluster.url('postgres'),
      BRANCH_PROVIDER: 'local',
      APP_DB_PASSWORD: undefined,
    });
  }
  const env = parseDbEnv(source);
  const roles = {
    ownerRole: env.OWNER_DB_ROLE,
    appRole: env.APP_DB_ROLE,
    appPassword: env.APP_DB_PASSWORD,
  };
  if (cluster) {
    step(`embedded PostgreSQL (PGlite) on ${cluster.host}:${cluster.port}, data in ${dataDir}`);
    await prepareDatabase(env.DATABASE_URL, roles);
    provisioner = new PgliteProvisioner(cluster, {
      ...roles,
      adminUrl: env.DATABASE_URL,
      prefix: 'homeroom',
    });
  }

  await migrateAll(env, () => {}, provisioner ?? provisionerFor(env));
  if (cluster) {
    await repointBranches(env.DATABASE_URL, env.BRANCH_SECRET_KEY, cluster);
    await cluster.closeIdle('homeroom_template');
  }
  step('migrated the control plane and every branch');
  return { env, provisioner, embedded };
}

/** The demo tenants (created and seeded on first run) and their school site domains. */
async function seedTenants(
  env: DbEnv,
  provisioner: BranchProvisioner | undefined,
  reseed: boolean,
  step: Step,
): Promise<{ tenant: DemoTenant; id: string }[]> {
  const tenants: { tenant: DemoTenant; id: string }[] = [];
  for (const tenant of DEMO_TENANTS) {
    const id = await ensureTenant(env, provisioner, tenant, reseed, step);
    const sites = await ensureSchoolSites(env, provisioner, tenant);
    if (sites) step(`registered ${sites} school site domains of ${tenant.slug}`);
    tenants.push({ tenant, id });
  }
  return tenants;
}

/** What runs the jobs: the in-process refresh runner, and the worker when there is Redis. */
interface Jobs {
  workerConfig: ReturnType<typeof parseWorkerConfig>;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  workerLog: ReturnType<typeof createLogger>;
  directory: ControlPlane;
  runner: InlineRunner;
  worker: WorkerHandle | null;
}

/** The refresh runner (each tenant's metrics refreshed now), and the worker when REDIS_URL is set. */
async function startJobs(
  source: Record<string, string | undefined>,
  embedded: boolean,
  dataDir: string,
  tenants: { tenant: DemoTenant; id: string }[],
  stack: Stack,
  step: Step,
): Promise<Jobs> {
  const workerConfig = parseWorkerConfig(
    embedded ? { ...source, WAREHOUSE_DIR: join(dataDir, 'warehouse') } : source,
    { requireRedis: false },
  );
  await mkdir(workerConfig.WAREHOUSE_DIR, { recursive: true });
  const logLevel = (process.env.LOG_LEVEL ?? 'warn') as 'debug' | 'info' | 'warn' | 'error';
  const workerLog = createLogger(logLevel, { service: 'demo-runner' });
  const directory = new ControlPlane(workerConfig.db, { branchPoolMax: 2 });
  stack.push(() => directory.close());
  const slugOf = new Map<string, string>();
  const runner: InlineRunner = createInlineRunner({
    directory,
    warehouseDir: workerConfig.WAREHOUSE_DIR,
    log: workerLog,
    duckdb: { memoryLimit: workerConfig.DUCKDB_MEMORY_LIMIT },
    // Refreshes the API asks for after a write (the start-up ones are reported below).
    onRefreshed: (r) => {
      const rows = Object.values(r.rowsPerTable).reduce((n, c) => n + c.extracted, 0);
      step(
        `refreshed ${slugOf.get(r.tenantId) ?? r.tenantId} after a change: ${rows} rows extracted`,
      );
    },
  });
  stack.push(() => runner.close());
  for (const { tenant, id } of tenants) {
    slugOf.set(id, tenant.slug);
    const r = await runner.refreshNow(id);
    step(`refreshed ${tenant.slug}: ${r.mode}, ${r.snapshots} metric snapshots`);
  }

  let worker: WorkerHandle | null = null;
  if (process.env.REDIS_URL) {
    worker = await startWorker(workerConfig, { log: workerLog, directory });
    stack.push(() => worker!.close());
  }
  return { workerConfig, logLevel, workerLog, directory, runner, worker };
}

/** The API's services: single sign-on on the demo tenants, mail in this process without Redis. */
async function startApi(
  source: Record<string, string | undefined>,
  env: DbEnv,
  tenants: { tenant: DemoTenant; id: string }[],
  { workerConfig, logLevel, workerLog, directory, runner, worker }: Jobs,
  stack: Stack,
  step: Step,
): Promise<Awaited<ReturnType<typeof createNodeServices>>> {
  const apiConfig = parseApiConfig({ ...source, LOG_LEVEL: logLevel });
  const sso = demoSsoFrom(source);
  if (sso) {
    for (const { tenant } of tenants) {
      await ensureDemoSso(env, tenant.slug, sso, apiConfig.authSecretKey);
    }
    step(`single sign-on: "Sign in with ${sso.name}" on every demo tenant's /login`);
  }
  // Without Redis, mail is delivered in this process (retries, backoff and the outbox sweep).
  const mailer = worker
    ? null
    : createInlineMailer({
        directory,
        transport: smtpTransport(workerConfig.SMTP_URL!),
        from: workerConfig.MAIL_FROM,
        log: workerLog,
        sweepIntervalMs: workerConfig.MAIL_SWEEP_INTERVAL_MS,
      });
  if (mailer) stack.push(() => mailer.close());
  const api = await createNodeServices(
    apiConfig,
    worker ? {} : { queue: runner, ...(mailer ? { mail: mailer } : {}) },
  );
  stack.push(() => api.close());
  return api;
}

/** Starts the embedded cluster on the port it had last time (branch URLs name it), if free. */
async function startCluster(dataDir: string): Promise<EmbeddedCluster> {
  const stateFile = join(dataDir, 'cluster.json');
  await mkdir(dataDir, { recursive: true });
  const saved = await readFile(stateFile, 'utf8')
    .then((t) => (JSON.parse(t) as { port?: number }).port)
    .catch(() => undefined);
  const pgDir = join(dataDir, 'pg');
  const cluster = await startEmbeddedCluster({ dataDir: pgDir, port: saved ?? 0 }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') throw err;
      return startEmbeddedCluster({ dataDir: pgDir });
    },
  );
  await writeFile(stateFile, JSON.stringify({ port: cluster.port }) + '\n');
  return cluster;
}

/** Creates the tenant unless it exists and seeds it unless it already holds data; its id. */
async function ensureTenant(
  env: DbEnv,
  provisioner: BranchProvisioner | undefined,
  tenant: DemoTenant,
  reseed: boolean,
  step: (what: string) => void,
): Promise<string> {
  let target = await tenantBranchOwner(env, tenant.slug);
  if (!target) {
    const { db, close } = await openNode(env.DATABASE_URL, controlSchema, 2);
    try {
      await createTenant(
        {
          control: db,
          open: openNode,
          provisioner: provisioner ?? provisionerFor(env),
          secretKey: env.BRANCH_SECRET_KEY,
        },
        {
          slug: tenant.slug,
          name: tenant.name,
          domains: [`${tenant.slug}.localhost`],
          placement: tenant.placement,
          timezone: tenant.timezone,
          adminEmail: adminEmail(tenant),
          adminPassword: ADMIN_PASSWORD,
          adminName: 'Demo Administrator',
          actor: 'cli:demo',
        },
      );
    } finally {
      await close();
    }
    step(`created tenant ${tenant.slug} (${tenant.placement} branch)`);
    target = await tenantBranchOwner(env, tenant.slug);
    if (!target) throw new Error(`tenant ${tenant.slug} vanished after creation`);
  }
  try {
    const report = await seedTenant({
      ownerUrl: target.ownerUrl,
      tenantId: target.tenantId,
      preset: tenant.preset,
      seed: tenant.seed,
      replace: reseed,
    });
    step(`seeded ${tenant.slug} (preset ${tenant.preset}): ${report.totalRows} rows`);
  } catch (err) {
    if (!(err instanceof SeedRefusedError)) throw err;
    step(`kept the data of ${tenant.slug} (--reseed seeds it again)`);
  }
  return target.tenantId;
}

/** A school's own site in the demo: `<school code>.<slug>.localhost`, loopback in browsers. */
function siteHost(code: string, slug: string): string {
  const label = code
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${label}.${slug}.localhost`;
}

/**
 * Registers each school's own site domain, bound to the school, so that its pages may post
 * inquiries and tour bookings (CORS, form redirects, the embedded form). The demo acts as the
 * operator and vouches for these loopback names, which therefore serve at once; a domain
 * added through the platform API serves only once verified. Returns how many were added.
 */
async function ensureSchoolSites(
  env: DbEnv,
  provisioner: BranchProvisioner | undefined,
  tenant: DemoTenant,
): Promise<number> {
  const target = await tenantBranchOwner(env, tenant.slug);
  if (!target) return 0;
  const branch = await openNode(target.ownerUrl, tenantSchema, 1);
  const o = tenantSchema.orgUnits;
  const schools = await branch.db
    .select({ id: o.id, code: o.code })
    .from(o)
    .where(
      and(
        eq(o.tenantId, target.tenantId),
        inArray(o.kind, [...tenantSchema.SCHOOL_KINDS]),
        isNull(o.deletedAt),
      ),
    )
    .finally(() => branch.close());
  const { db, close } = await openNode(env.DATABASE_URL, controlSchema, 2);
  let added = 0;
  try {
    const deps = {
      control: db,
      open: openNode,
      provisioner: provisioner ?? provisionerFor(env),
      secretKey: env.BRANCH_SECRET_KEY,
    };
    for (const school of schools) {
      if (!school.code) continue;
      try {
        await addDomain(deps, {
          slug: tenant.slug,
          hostname: siteHost(school.code, tenant.slug),
          orgUnitId: school.id,
          purpose: 'site',
          verified: true,
          actor: 'cli:demo',
        });
        added++;
      } catch (err) {
        // Registered on an earlier run.
        if (!(err instanceof PlatformError && err.code === 'duplicate_domain')) throw err;
      }
    }
  } finally {
    await close();
  }
  return added;
}
