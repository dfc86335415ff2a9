import { sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { childrenOf, studentsWithin, withinReach, type ScopeRules } from '../auth/scope.js';

/**
 * ESA applications by relationship: a parent reaches their own children's; an org role
 * those filed at a school within its reach or for a student attending one; a tenant-wide
 * role all of them. Disbursements follow their application.
 */
export function esaRules(studentId: PgColumn, schoolId: PgColumn): ScopeRules {
  return {
    org: (reach) => {
      const within = studentsWithin(reach);
      if (!within) return undefined;
      return sql`(${withinReach(reach, schoolId)} or ${studentId} in ${within})`;
    },
    parent: (u) => sql`${studentId} in ${childrenOf(u)}`,
  };
}
