import { Queue, UnrecoverableError, Worker, type Job, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import { rowsOf } from '../db/connection.js';
import { isUuid } from '../db/ids.js';
import type { Logger } from '../db/log.js';
import { withTenant } from '../db/tenancy.js';
import type { TenantDirectory } from './control.js';
import type { WorkerConfig } from './env.js';
import {
  DELIVER_JOB,
  deliverJobOptions,
  MAIL_RETRY,
  MAIL_SWEEP_JOB,
  type DeliverJobData,
  type MailJobData,
} from './mail-contract.js';
import { renderMail } from './mail-templates.js';
import { sql } from 'drizzle-orm';

/**
 * The mail worker (docs/operations.md#mail): a delivery job takes one outbox row, renders
 * it and hands it to SMTP with nodemailer, and records the outcome in the row and in the
 * delivery log (`mail_deliveries`: queued, sent, retry with the reason, failed). Failures
 * retry with exponential backoff; an SMTP 5xx (the server refused the message for good) or
 * the last attempt marks the row failed. The sweep re-enqueues every row still undelivered,
 * so a mail written while Redis was down — or whose job was lost — still leaves: the row
 * stays until it is delivered.
 */

/** A row being sent for longer than this is taken to be orphaned by a dead worker. */
const STALE_SENDING = '5 minutes';
const SWEEP_BATCH = 1_000;

export interface MailDeps {
  directory: TenantDirectory;
  transport: Transporter;
  /** Envelope and From address. */
  from: string;
  log: Logger;
}

export type DeliveryOutcome = 'sent' | 'skipped';

const errorText = (err: unknown) =>
  (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 500);

/** SMTP refused the message for good (5xx): retrying cannot help. */
const permanent = (err: unknown) => {
  const code = (err as { responseCode?: number } | null)?.responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
};

interface Claimed {
  id: string;
  template: string;
  to_address: string;
  to_name: string | null;
  from_name: string;
  reply_to: string | null;
  payload: unknown;
  attempts: number;
}

/**
 * Delivers one outbox row. `final` says this is the last attempt the caller will make.
 * A row already sent (or being sent by another worker) is skipped, so a duplicate job is
 * harmless.
 */
export async function deliverOutboxRow(
  deps: MailDeps,
  data: DeliverJobData,
  final: boolean,
): Promise<DeliveryOutcome> {
  const tenant = await deps.directory.tenant(data.tenantId);
  if (!tenant) throw new UnrecoverableError('mail job: unknown tenant');
  // A suspended tenant's mail waits in the outbox; the sweep picks it up after reactivation.
  if (tenant.status !== 'active') throw new UnrecoverableError('mail job: tenant not active');
  const { db } = await deps.directory.branch(tenant.branchId);
  const [row] = await withTenant(db, tenant.id, async (tx) =>
    rowsOf<Claimed & Record<string, unknown>>(
      await tx.execute(sql`
        update outbox set status = 'sending', claimed_at = now(), attempts = attempts + 1
        where id = ${data.outboxId}
          and (status = 'queued'
               or (status = 'sending' and claimed_at < now() - ${STALE_SENDING}::interval))
        returning id::text, template, to_address, to_name, from_name, reply_to, payload, attempts`),
    ),
  );
  if (!row) return 'skipped';

  const record = (
    status: 'sent' | 'queued' | 'failed',
    event: string,
    detail: string | null,
    messageId?: string,
  ) =>
    withTenant(db, tenant.id, (tx) =>
      tx.execute(sql`
        with o as (
          update outbox
          set status = ${status}, claimed_at = null,
              last_error = ${status === 'sent' ? null : detail},
              sent_at = ${status === 'sent' ? sql`now()` : sql`null`},
              message_id = ${messageId ?? null},
              -- The link is the only secret a mail holds: gone once it has left.
              payload = case when ${status} = 'sent' then payload - 'link' else payload end
          where id = ${row.id}
          returning id)
        insert into mail_deliveries (tenant_id, outbox_id, event, attempt, detail)
        select ${tenant.id}, id, ${event}, ${row.attempts}, ${detail} from o`),
    );

  let rendered;
  try {
    rendered = renderMail(row.template, row.payload);
  } catch (err) {
    await record('failed', 'failed', errorText(err));
    throw err instanceof UnrecoverableError ? err : new UnrecoverableError(errorText(err));
  }
  try {
    const info = await deps.transport.sendMail({
      from: { name: row.from_name, address: deps.from },
      to: row.to_name ? { name: row.to_name, address: row.to_address } : row.to_address,
      ...(row.reply_to ? { replyTo: row.reply_to } : {}),
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
      headers: { 'X-Homeroom-Tenant': tenant.slug, 'Auto-Submitted': 'auto-generated' },
    });
    await record('sent', 'sent', String(info.response ?? '').slice(0, 500) || null, info.messageId);
    deps.log.count('mail_sent');
    return 'sent';
  } catch (err) {
    const giveUp = final || permanent(err);
    await record(giveUp ? 'failed' : 'queued', giveUp ? 'failed' : 'retry', errorText(err));
    deps.log.count(giveUp ? 'mail_failed' : 'mail_retry');
    deps.log.warn(giveUp ? 'mail.failed' : 'mail.retry', {
      tenant_id: tenant.id,
      outbox_id: row.id,
      attempt: row.attempts,
      error: errorText(err),
    });
    throw permanent(err) ? new UnrecoverableError(errorText(err)) : err;
  }
}

/** Every undelivered outbox row of every active tenant, handed to `enqueue` in batches. */
export async function sweepOutbox(
  deps: Pick<MailDeps, 'directory' | 'log'>,
  enqueue: (tenantId: string, outboxIds: string[]) => Promise<unknown>,
): Promise<{ tenants: number; enqueued: number }> {
  const tenants = await deps.directory.activeTenants();
  let enqueued = 0;
  for (const tenant of tenants) {
    try {
      const { db } = await deps.directory.branch(tenant.branchId);
      const ids = await withTenant(db, tenant.id, async (tx) =>
        rowsOf<{ id: string }>(
          await tx.execute(sql`
            select id::text from outbox
            where status = 'queued'
               or (status = 'sending' and claimed_at < now() - ${STALE_SENDING}::interval)
            order by created_at
            limit ${SWEEP_BATCH * 10}`),
        ).map((r) => r.id),
      );
      for (let i = 0; i < ids.length; i += SWEEP_BATCH) {
        await enqueue(tenant.id, ids.slice(i, i + SWEEP_BATCH));
      }
      enqueued += ids.length;
    } catch (err) {
      deps.log.warn('mail sweep skipped a tenant', { tenant_id: tenant.id, error: errorText(err) });
    }
  }
  if (enqueued > 0) deps.log.info('mail.sweep', { tenants: tenants.length, enqueued });
  return { tenants: tenants.length, enqueued };
}

/** nodemailer's SMTP transport for `SMTP_URL` (pooled: one connection serves many mails). */
export function smtpTransport(url: string): Transporter {
  return nodemailer.createTransport(url.includes('?') ? `${url}&pool=true` : `${url}?pool=true`);
}

const parseDeliver = (data: unknown): DeliverJobData => {
  const d = data as Partial<DeliverJobData> | null;
  if (!isUuid(d?.tenantId) || !isUuid(d?.outboxId)) {
    throw new UnrecoverableError('mail job payload: tenantId and outboxId must be UUIDs');
  }
  return { tenantId: d.tenantId, outboxId: d.outboxId };
};

export const MAIL_SWEEP_SCHEDULER_ID = 'mail:sweep';

export interface MailWorkerHandle {
  worker: Worker<MailJobData>;
  queue: Queue<MailJobData>;
  close(): Promise<void>;
}

/**
 * Starts the mail worker beside the metrics worker (workers/main.ts) on the same Redis
 * connection: deliveries and the periodic outbox sweep. Null when SMTP_URL is unset.
 */
export async function startMailWorker(
  config: WorkerConfig,
  deps: { redis: Redis; directory: TenantDirectory; log: Logger; transport?: Transporter },
): Promise<MailWorkerHandle | null> {
  const transport = deps.transport ?? (config.SMTP_URL ? smtpTransport(config.SMTP_URL) : null);
  if (!transport) {
    deps.log.info('mail worker off: SMTP_URL is unset; mail waits in the outbox');
    return null;
  }
  const mail: MailDeps = {
    directory: deps.directory,
    transport,
    from: config.MAIL_FROM,
    log: deps.log,
  };
  const queue = new Queue<MailJobData>(config.MAIL_QUEUE, {
    connection: deps.redis,
    prefix: config.QUEUE_PREFIX,
  });
  queue.on('error', (err) => deps.log.warn('mail queue error', { error: err.message }));
  const enqueue = (tenantId: string, ids: string[]) =>
    queue.addBulk(
      ids.map((outboxId) => ({
        name: DELIVER_JOB,
        data: { tenantId, outboxId },
        opts: deliverJobOptions(outboxId),
      })),
    );
  const processor: Processor<MailJobData> = async function mailJob(job: Job<MailJobData>) {
    switch (job.name) {
      case DELIVER_JOB: {
        const attempts = job.opts.attempts ?? MAIL_RETRY.attempts;
        return deliverOutboxRow(mail, parseDeliver(job.data), job.attemptsMade + 1 >= attempts);
      }
      case MAIL_SWEEP_JOB:
        return sweepOutbox(mail, enqueue);
      default:
        throw new UnrecoverableError('unknown job name');
    }
  };
  const worker = new Worker<MailJobData>(config.MAIL_QUEUE, processor, {
    connection: deps.redis,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.MAIL_CONCURRENCY,
  });
  worker.on('error', (err) => deps.log.warn('mail worker error', { error: err.message }));
  if (config.WORKER_SCHEDULER) {
    const upsert = () =>
      queue.upsertJobScheduler(
        MAIL_SWEEP_SCHEDULER_ID,
        { every: config.MAIL_SWEEP_INTERVAL_MS },
        { name: MAIL_SWEEP_JOB, data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } },
      );
    await upsert();
    deps.redis.on('ready', () => {
      upsert().catch((err: Error) =>
        deps.log.warn('mail sweep scheduler not re-upserted', { error: err.message }),
      );
    });
  }
  let closing: Promise<void> | null = null;
  return {
    worker,
    queue,
    close() {
      closing ??= (async () => {
        await worker.close();
        await queue.close();
        transport.close();
      })();
      return closing;
    },
  };
}

export interface InlineMailer {
  /** The API's MailQueue shape: delivers in this process, retrying with the job backoff. */
  enqueueMail(tenantId: string, outboxIds: readonly string[]): Promise<boolean>;
  /** Delivers every undelivered outbox row now. */
  sweep(): Promise<number>;
  /** Resolves when no delivery is running or waiting for a retry. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The queue-less mailer for a deployment without Redis (the embedded demo, tests): the same
 * delivery as the BullMQ processor, with its retries and backoff kept in-process, and the
 * sweep on a timer. State is in memory; the outbox is not, so a restart loses no mail.
 */
export function createInlineMailer(
  deps: MailDeps & { sweepIntervalMs?: number; retryDelayMs?: number },
): InlineMailer {
  const inflight = new Set<Promise<unknown>>();
  const active = new Set<string>();
  let closed = false;
  let wake!: () => void;
  // Resolves on close(): a retry waiting out its backoff gives up at once.
  const closing = new Promise<void>((resolve) => (wake = resolve));
  const baseDelay = deps.retryDelayMs ?? MAIL_RETRY.backoff.delay;

  async function attempt(data: DeliverJobData): Promise<void> {
    for (let n = 1; !closed; n++) {
      try {
        await deliverOutboxRow(deps, data, n >= MAIL_RETRY.attempts);
        return;
      } catch (err) {
        if (err instanceof UnrecoverableError || n >= MAIL_RETRY.attempts) return;
        const wait = baseDelay * 2 ** (n - 1) * (1 - MAIL_RETRY.backoff.jitter * Math.random());
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          void closing.then(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    }
  }
  function start(data: DeliverJobData) {
    if (active.has(data.outboxId) || closed) return;
    active.add(data.outboxId);
    const p = attempt(data).finally(() => {
      active.delete(data.outboxId);
      inflight.delete(p);
    });
    inflight.add(p);
  }
  const mailer: InlineMailer = {
    async enqueueMail(tenantId, outboxIds) {
      for (const outboxId of outboxIds) start({ tenantId, outboxId });
      return !closed;
    },
    async sweep() {
      const r = await sweepOutbox(deps, async (tenantId, ids) => {
        for (const outboxId of ids) start({ tenantId, outboxId });
      });
      return r.enqueued;
    },
    async idle() {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
    async close() {
      closed = true;
      wake();
      if (timer) clearInterval(timer);
      await Promise.allSettled([...inflight]);
      // A pooled SMTP connection would otherwise stay open (and hold its server's close).
      deps.transport.close();
    },
  };
  const timer =
    deps.sweepIntervalMs && deps.sweepIntervalMs > 0
      ? setInterval(() => {
          mailer
            .sweep()
            .catch((err: Error) => deps.log.warn('mail sweep failed', { error: err.message }));
        }, deps.sweepIntervalMs)
      : undefined;
  timer?.unref();
  return mailer;
}
