/** The plans every control plane starts with (inserted by `migrateAll`, idempotently). */
export const DEFAULT_PLANS = [
  { key: 'starter', name: 'Starter', maxStudents: 150, maxStaff: 25, priceCents: 0 },
  { key: 'school', name: 'School', maxStudents: 1500, maxStaff: 200, priceCents: 0 },
  { key: 'network', name: 'Network', maxStudents: 50000, maxStaff: 5000, priceCents: 0 },
] as const;
