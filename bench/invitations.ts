import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { newApp } from '../api/app.js';
import { parseApiConfig } from '../api/env.js';
import { createNodeServices, serveNode } from '../api/runtime/node.js';
import { createTenant } from '../db/platform.js';
import { asAdmin, benchEnvironment } from './environment.js';

/**
 * Inviting every guardian of a school at once (`POST /v1/invitations/guardians`): a school of
 * GUARDIANS families, each guardian with an address and no account. Measures the request
 * (users, links, invitations, outbox rows and delivery-log rows written and committed) and
 * the time until every delivery job is in the BullMQ mail queue. Target (BENCHMARKS.md):
 * ≥ 5,000 invitations queued in ≤ 10 s.
 */

const GUARDIANS = Number(process.env.BENCH_GUARDIANS ?? 5_000);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSWORD = 'Quiet-Invite-Lantern-42';

export interface InvitationsBenchResult {
  invited: number;
  requestMs: number;
  queuedMs: number;
}

export async function benchInvitations(
  log: (line: string) => void = console.log,
): Promise<InvitationsBenchResult> {
  const b = await benchEnvironment('invitations');
  const mailQueue = `bench-mail-${randomUUID()}`;
  const queue = new Queue(mailQueue, { connection: { url: REDIS_URL } });
  try {
    const tenant = await createTenant(b.env, {
      slug: 'bench',
      name: 'Bench Academy',
      domains: ['bench.test'],
      placement: 'pool',
      adminEmail: 'admin@bench.test',
      adminPassword: PASSWORD,
      actor: 'bench',
    });
    const school = await asAdmin(b.adminUrl('pool'), async (c) => {
      const t = tenant.id;
      const { rows } = await c.query<{ id: string }>(
        `insert into org_units (tenant_id, parent_id, kind, name, code)
         values ($1, $2, 'school', 'Bench Elementary', 'BE') returning id`,
        [t, tenant.rootOrgUnitId],
      );
      const id = rows[0]!.id;
      await c.query(
        `with s as (
           insert into students (tenant_id, student_number, first_name, last_name, grade_level, school_id)
           select $1, 'B' || g, 'Kid', 'No' || g, '3', $2 from generate_series(1, $3) g
           returning id, student_number),
         g as (
           insert into guardians (tenant_id, first_name, last_name, email)
           select $1, 'Parent', 'No' || g, 'parent' || g || '@families.bench.test'
           from generate_series(1, $3) g
           returning id, email)
         insert into student_guardians (tenant_id, student_id, guardian_id, relationship)
         select $1, s.id, g.id, 'parent' from s
         join g on g.email = 'parent' || substr(s.student_number, 2) || '@families.bench.test'`,
        [t, id, GUARDIANS],
      );
      await c.query('analyze');
      return id;
    });

    const config = parseApiConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      DATABASE_URL: b.env.DATABASE_URL,
      REDIS_URL,
      MAIL_QUEUE: mailQueue,
    });
    const { services, close } = await createNodeServices(config);
    const app = newApp({ services: () => services });
    const server = await new Promise<ReturnType<typeof serveNode>>((resolve) => {
      const s = serveNode(app.fetch, { port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const post = (path: string, body: unknown, token?: string) =>
        new Promise<{ status: number; json(): Promise<unknown> }>((resolve, reject) => {
          const data = JSON.stringify(body);
          const req = http.request(
            `${base}${path}`,
            {
              method: 'POST',
              headers: {
                host: 'bench.test',
                'content-type': 'application/json',
                'content-length': Buffer.byteLength(data),
                ...(token ? { authorization: `Bearer ${token}` } : {}),
              },
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (d: Buffer) => chunks.push(d));
              res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                resolve({ status: res.statusCode ?? 0, json: async () => JSON.parse(text) });
              });
            },
          );
          req.on('error', reject);
          req.end(data);
        });
      const login = await post('/v1/auth/login', { email: 'admin@bench.test', password: PASSWORD });
      const { access_token } = (await login.json()) as { access_token: string };

      const started = performance.now();
      const r = await post('/v1/invitations/guardians', { school_id: school }, access_token);
      const body = (await r.json()) as { invited: number };
      const requestMs = performance.now() - started;
      if (r.status !== 202) throw new Error(`bulk invite answered ${r.status}`);
      let jobs = 0;
      while (jobs < body.invited) {
        const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed');
        jobs = Object.values(counts).reduce((a, x) => a + x, 0);
        if (performance.now() - started > 120_000) throw new Error(`only ${jobs} jobs queued`);
        if (jobs < body.invited) await new Promise((res) => setTimeout(res, 20));
      }
      const queuedMs = performance.now() - started;
      log(
        `invitations: ${body.invited} guardians invited in one request: committed in ${(requestMs / 1000).toFixed(2)} s, ` +
          `every delivery job in the queue after ${(queuedMs / 1000).toFixed(2)} s (target ≤ 10 s for ≥ 5,000)`,
      );
      return { invited: body.invited, requestMs, queuedMs };
    } finally {
      await new Promise<void>((res) => server.close(() => res()));
      await close();
    }
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await b.destroy();
  }
}
