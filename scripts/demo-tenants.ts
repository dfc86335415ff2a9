import type { PresetName } from '../db/seed/index.js';

export interface DemoTenant {
  slug: string;
  name: string;
  placement: 'pool' | 'dedicated';
  preset: PresetName;
  /** Seeds differ so the two tenants share no ids or names. */
  seed: number;
  timezone: string;
}

/** A network on the shared pool branch, and a school with a branch of its own. */
export const DEMO_TENANTS: readonly DemoTenant[] = [
  {
    slug: 'demo-network',
    name: 'Desert Sun Schools (demo network)',
    placement: 'pool',
    preset: 'demo',
    seed: 42,
    timezone: 'America/Phoenix',
  },
  {
    slug: 'demo-school',
    name: 'Juniper Academy (demo school)',
    placement: 'dedicated',
    preset: 'school',
    seed: 7,
    timezone: 'America/Phoenix',
  },
];

/** The tenant administrator's password: demo-only, printed at start. */
export const ADMIN_PASSWORD = 'Homeroom-Sample-2026!';

export function adminEmail(t: DemoTenant): string {
  return `admin@${t.slug}.example.org`;
}
