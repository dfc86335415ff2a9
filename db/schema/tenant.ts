/** Every table of a tenant branch (the data plane). */
export * from './org.js';
export * from './people.js';
export * from './academic.js';
export * from './attendance.js';
export * from './grades.js';
export * from './admissions.js';
export * from './finance.js';
export * from './esa.js';
export * from './audit.js';
export * from './publication.js';
export * from './tracking.js';
export * from './auth.js';
export * from './imports.js';
export * from './accounts.js';
