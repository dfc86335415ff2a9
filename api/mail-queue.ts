import { Queue } from 'bullmq';
import type { Logger } from '../db/log.js';
import { DELIVER_JOB, deliverJobOptions, type DeliverJobData } from '../workers/mail-contract.js';
import type { RedisProvider } from './redis.js';

/** Asks the mail workers to deliver outbox rows after the commit that wrote them. */
export interface MailQueue {
  /** Resolves true when enqueued; false (logged) when the queue could not take them. */
  enqueueMail(tenantId: string, outboxIds: readonly string[]): Promise<boolean>;
}

const ENQUEUE_TIMEOUT_MS = 2_000;
const CHUNK = 1_000;

/**
 * BullMQ producer of delivery jobs. The outbox rows have committed, so a failure here only
 * delays the mail: the mail sweep re-enqueues every row still undelivered.
 */
export function bullMailQueue(
  redis: RedisProvider,
  options: { queueName: string; log: Logger },
): MailQueue {
  let queue: Queue<DeliverJobData> | null = null;
  return {
    async enqueueMail(tenantId, outboxIds) {
      if (outboxIds.length === 0) return true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const client = await redis.get();
        if (!client) throw new Error('redis unavailable');
        if (!queue) {
          queue = new Queue<DeliverJobData>(options.queueName, { connection: client });
          queue.on('error', () => {});
        }
        const q = queue;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('enqueue timed out')), ENQUEUE_TIMEOUT_MS);
        });
        const adds = (async () => {
          for (let i = 0; i < outboxIds.length; i += CHUNK) {
            await q.addBulk(
              outboxIds.slice(i, i + CHUNK).map((outboxId) => ({
                name: DELIVER_JOB,
                data: { tenantId, outboxId },
                opts: deliverJobOptions(outboxId),
              })),
            );
          }
        })();
        await Promise.race([adds, timeout]);
        return true;
      } catch (err) {
        options.log.count('mail_enqueue_failed');
        options.log.warn('mail not enqueued; the mail sweep will deliver it', {
          tenant_id: tenantId,
          mails: outboxIds.length,
          error: (err as Error).message,
        });
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
