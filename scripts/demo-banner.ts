import { join, resolve } from 'node:path';
import { PRESETS } from '../db/seed/index.js';
import { ADMIN_PASSWORD, adminEmail, DEMO_TENANTS } from './demo-tenants.js';

/** What the demo prints once it is up: each tenant's URLs and logins, then where its data lives. */
export function banner(o: {
  port: number;
  dataDir: string | null;
  /** The control plane the operator CLIs must be pointed at while the demo runs. */
  controlUrl: string;
  warehouseDir: string;
  jobs: string;
  seconds: number;
}): string {
  const lines = ['', `Homeroom demo ready in ${o.seconds.toFixed(1)} s`, ''];
  for (const t of DEMO_TENANTS) {
    const base = `http://${t.slug}.localhost:${o.port}`;
    lines.push(
      `  ${t.name}`,
      `    public API  ${base}/v1/public/profile`,
      `    sign in     ${base}/login`,
      `    dashboards  ${base}/dashboards`,
      `    API docs    ${base}/docs`,
      `    school sites <school code>.${t.slug}.localhost:${o.port} (CORS and form posts allowed)`,
      `    embed form  ${base}/v1/public/forms/inquiry`,
      `    logins      ${adminEmail(t)} / ${ADMIN_PASSWORD}  (administrator)`,
      `    mailbox     ${base}/demo/mailbox  (the mail the demo sends, for the administrator: invite someone, follow the link)`,
      `                principal|teacher|parent@demo.example.org / ${PRESETS[t.preset].password}`,
      '',
    );
  }
  lines.push(
    `  data        ${o.dataDir ? `embedded PostgreSQL (PGlite) in ${join(o.dataDir, 'pg')}` : 'DATABASE_URL'}`,
    `  warehouse   ${resolve(o.warehouseDir)}`,
    `  jobs        ${o.jobs}`,
    '  A school site of your own, while the demo runs (the CLI reaches its databases with this URL):',
    `    DATABASE_URL=${o.dataDir ? o.controlUrl : '$DATABASE_URL'} npm run tenant -- add-domain --slug SLUG \\`,
    '    --domain www.example.org [--school ORG_UNIT_ID], publish the token it prints, then',
    '    the same with verify-domain',
    '    (docs/websites.md: the embedded form, plain HTML forms and JSON, with snippets)',
    '  These are demo-only credentials. Press Ctrl-C to stop.',
    '',
  );
  return lines.join('\n');
}
