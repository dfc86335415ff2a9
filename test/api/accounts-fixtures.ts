import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createLogger } from '../../db/log.js';
import { ControlPlane } from '../../workers/control.js';
import { parseWorkerConfig } from '../../workers/env.js';
import { startMailWorker, type MailWorkerHandle } from '../../workers/mail.js';
import type { ApiTarget } from '../support/api.js';
import { createApiWorld, REDIS_URL, type ApiWorld } from '../support/api-world.js';
import { startSmtpCatcher, type SmtpCatcher } from '../support/smtp.js';
import { Staff } from './staff-fixtures.js';

/**
 * The deployment of the account tests: the API on Node with a mail queue of its own, the
 * BullMQ mail worker on that queue, and a real SMTP server the worker delivers to.
 */
export interface AccountsWorld {
  world: ApiWorld;
  api: ApiTarget;
  smtp: SmtpCatcher;
  staff: Staff;
  /** Superuser on the pool branch: white-box setup and assertions. */
  db: pg.Client;
  mailQueue: string;
  mail: MailWorkerHandle;
  close(): Promise<void>;
}

export async function createAccountsWorld(
  label: string,
  vars: Record<string, string> = {},
): Promise<AccountsWorld> {
  const smtp = await startSmtpCatcher();
  const mailQueue = `test-mail-${randomUUID()}`;
  const world = await createApiWorld(label, {
    runtimes: ['node'],
    vars: { MAIL_QUEUE: mailQueue, LOGIN_RATE_LIMIT: '10000', ...vars },
  });
  const config = parseWorkerConfig({
    NODE_ENV: 'test',
    DATABASE_URL: world.t.env.DATABASE_URL,
    REDIS_URL,
    MAIL_QUEUE: mailQueue,
    SMTP_URL: smtp.url,
    MAIL_FROM: 'no-reply@homeroom.test',
    WORKER_SCHEDULER: 'false',
    LOG_LEVEL: 'error',
  });
  const log = createLogger('error', { service: 'test-mail' });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const directory = new ControlPlane(config.db, { cacheTtlMs: 0 });
  const mail = (await startMailWorker(config, { redis, directory, log }))!;
  const db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
  const staff = await Staff.open(world);
  return {
    world,
    api: world.targets[0]!,
    smtp,
    staff,
    db,
    mailQueue,
    mail,
    async close() {
      await mail.close().catch(() => undefined);
      const q = new Queue(mailQueue, { connection: redis });
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close().catch(() => undefined);
      await directory.close().catch(() => undefined);
      redis.disconnect();
      await staff.close();
      await db.end().catch(() => undefined);
      await world.close();
      await smtp.close();
    },
  };
}

export const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  rawBody: new URLSearchParams(fields).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
});

/** The token of a link (its `token` query parameter). */
export const tokenOf = (link: string) => new URL(link).searchParams.get('token')!;

/** A path and query of a link, to request it with the tenant's Host header. */
export const pathOf = (link: string) => {
  const u = new URL(link);
  return u.pathname + u.search;
};

export const STRONG = 'Lantern-Harbor-Quiet-42';
