import type { EsaApplicationStatus } from '../../db/schema/esa.js';

/**
 * The life of an ESA application: a family drafts and submits it, the school reviews it
 * and decides (approved with an award, or denied); until decided it can be withdrawn.
 * Approved, denied and withdrawn are final.
 */
export const ESA_TRANSITIONS: Record<EsaApplicationStatus, readonly EsaApplicationStatus[]> = {
  draft: ['submitted', 'withdrawn'],
  submitted: ['under_review', 'withdrawn'],
  under_review: ['approved', 'denied', 'withdrawn'],
  approved: [],
  denied: [],
  withdrawn: [],
};

/** Moves that decide an application: they need `esa.decide`. */
export const DECISIONS: ReadonlySet<EsaApplicationStatus> = new Set(['approved', 'denied']);

export function allowedNext(from: EsaApplicationStatus): readonly EsaApplicationStatus[] {
  return ESA_TRANSITIONS[from];
}

export function canMove(from: EsaApplicationStatus, to: EsaApplicationStatus): boolean {
  return ESA_TRANSITIONS[from].includes(to);
}
