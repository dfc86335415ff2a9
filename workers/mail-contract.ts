/**
 * The mail queue's contract, shared by producers (the API after a commit, the sweep) and the
 * mail worker. A job names an outbox row; the row holds the message, so a job carries ids only.
 */

export const MAIL_QUEUE = 'mail';

export const DELIVER_JOB = 'deliver';
/** The scheduler's job: re-enqueue every undelivered outbox row of every active tenant. */
export const MAIL_SWEEP_JOB = 'mail-sweep';

export interface DeliverJobData {
  tenantId: string;
  outboxId: string;
}

export type MailJobData = DeliverJobData | Record<string, never>;

/** Retries of a failed delivery: 5 s, 10 s, 20 s, 40 s, 80 s (each shortened by up to half). */
export const MAIL_RETRY = {
  attempts: 6,
  backoff: { type: 'exponential' as const, delay: 5_000, jitter: 0.5 },
};

/**
 * Options of a delivery job. The job id is the outbox row's, so adding the same row twice
 * (the API's enqueue and a sweep) while a job for it exists is a no-op.
 */
export function deliverJobOptions(outboxId: string) {
  return {
    jobId: `mail-${outboxId}`,
    attempts: MAIL_RETRY.attempts,
    backoff: { ...MAIL_RETRY.backoff },
    removeOnComplete: true,
    removeOnFail: { count: 5_000 },
  };
}
