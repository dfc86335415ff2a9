/** Moved to test/support/staff.ts; kept for the files that still import it from here. */
export * from '../support/staff.js';
