import { userInfo } from 'node:os';
import { fileUrlsOf, txtName } from '../db/domain-verification.js';
import {
  addDomain,
  createTenant,
  listTenants,
  setTenantStatus,
  verificationSettings,
  verifyDomain,
} from '../db/platform.js';
import { args, loadEnv, run, UsageError } from './cli.js';

const USAGE = `usage:
  npm run tenant -- create --slug S --name N --domain D [--domain D2 …] [--placement pool|dedicated]
                           [--plan P] [--timezone TZ] --admin-email E [--admin-name "First Last"]
                           [--admin-password-stdin] [--link-origin https://HOST]
                           [--platform-admin]   (the operator tenant: its first admin may use /v1/platform)
      The first admin gets an invitation by mail (SMTP_URL; without it the link is printed),
      or the password from stdin (--admin-password-stdin) or HOMEROOM_ADMIN_PASSWORD.
  npm run tenant -- add-domain --slug S --domain D [--school ORG_UNIT_ID] [--purpose site|app]
                               [--verified]   (you vouch for the domain: it serves at once)
  npm run tenant -- verify-domain --slug S --domain D
  npm run tenant -- suspend --slug S
  npm run tenant -- reactivate --slug S
  npm run tenant -- list [--json]`;

const actor = `cli:${userInfo().username}`;

function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '') throw new UsageError(`--${flag} is required`);
  return value;
}

await run(async () => {
  const [command, ...rest] = process.argv.slice(2);
  const env = loadEnv();
  switch (command) {
    case 'create':
      return createCommand(env, rest);
    case 'add-domain':
      return addDomainCommand(env, rest);
    case 'verify-domain':
      return verifyDomainCommand(env, rest);
    case 'suspend':
    case 'reactivate':
      return setStatusCommand(env, rest, command);
    case 'list':
      return listCommand(env, rest);
    default:
      throw new UsageError(command ? `unknown command "${command}"` : 'a command is required');
  }
}, USAGE);

type Env = ReturnType<typeof loadEnv>;

/** `create`: a tenant, its branch, its first admin (invited, or with a password from stdin). */
async function createCommand(env: Env, rest: string[]): Promise<void> {
  const { values } = args(rest, {
    slug: { type: 'string' },
    name: { type: 'string' },
    domain: { type: 'string', multiple: true },
    placement: { type: 'string', default: 'pool' },
    plan: { type: 'string' },
    timezone: { type: 'string' },
    'admin-email': { type: 'string' },
    'admin-password': { type: 'string' },
    'admin-password-stdin': { type: 'boolean', default: false },
    'link-origin': { type: 'string' },
    'admin-name': { type: 'string' },
    'platform-admin': { type: 'boolean', default: false },
  });
  const placement = values.placement;
  if (placement !== 'pool' && placement !== 'dedicated') {
    throw new UsageError('--placement must be pool or dedicated');
  }
  if (values['admin-password'] !== undefined) {
    throw new UsageError(
      '--admin-password is not accepted (ps and shell history would see it): use --admin-password-stdin or HOMEROOM_ADMIN_PASSWORD, or let the admin accept an invitation',
    );
  }
  const slug = required(values.slug, 'slug');
  const name = required(values.name, 'name');
  const domains = required(values.domain, 'domain');
  const adminEmail = required(values['admin-email'], 'admin-email');
  // Loaded only here: mail and invitations are not needed by the other commands.
  const { inviteFirstAdmin, readStdin } = await import('./invite-admin.js');
  const adminPassword = values['admin-password-stdin']
    ? await readStdin()
    : process.env.HOMEROOM_ADMIN_PASSWORD || undefined;
  if (values['admin-password-stdin'] && !adminPassword) {
    throw new UsageError('--admin-password-stdin: nothing was read from stdin');
  }
  const tenant = await createTenant(env, {
    slug,
    name,
    domains,
    placement,
    ...(values.plan ? { plan: values.plan } : {}),
    ...(values.timezone ? { timezone: values.timezone } : {}),
    adminEmail,
    ...(adminPassword ? { adminPassword } : {}),
    ...(values['admin-name'] ? { adminName: values['admin-name'] } : {}),
    ...(values['platform-admin'] ? { platformAdmin: true } : {}),
    actor,
  });
  console.log(
    `created tenant ${tenant.slug} (${tenant.id}) on ${tenant.placement} branch ${tenant.branch}; admin user ${tenant.adminUserId}` +
      (values['platform-admin'] ? ' (platform admin)' : ''),
  );
  if (!adminPassword) {
    const origin = values['link-origin'] ?? `https://${domains[0]!.toLowerCase()}`;
    if (!/^https?:\/\/[a-z0-9.-]+(:\d+)?$/i.test(origin)) {
      throw new UsageError('--link-origin must be like https://school.example.org');
    }
    const sent = await inviteFirstAdmin(env, {
      slug: tenant.slug,
      name,
      adminUserId: tenant.adminUserId,
      origin,
    });
    console.log(
      sent.delivered
        ? `invitation mailed to ${sent.email} (valid 7 days)`
        : `give ${sent.email} this invitation link (valid 7 days, works once):\n${sent.link}`,
    );
  }
}

/** `add-domain`: a domain of the tenant (or of one of its schools), and how to verify it. */
async function addDomainCommand(env: Env, rest: string[]): Promise<void> {
  const { values } = args(rest, {
    slug: { type: 'string' },
    domain: { type: 'string' },
    school: { type: 'string' },
    purpose: { type: 'string', default: 'site' },
    verified: { type: 'boolean', default: false },
  });
  if (values.purpose !== 'site' && values.purpose !== 'app') {
    throw new UsageError('--purpose must be site or app');
  }
  const added = await addDomain(env, {
    slug: required(values.slug, 'slug'),
    hostname: required(values.domain, 'domain'),
    ...(values.school ? { orgUnitId: values.school } : {}),
    purpose: values.purpose,
    verified: values.verified,
    actor,
  });
  console.log(`added ${added.hostname} to ${values.slug}`);
  if (added.verificationToken) {
    const files = fileUrlsOf(verificationSettings(env), added.hostname);
    console.log(
      [
        'it serves once verified: publish either',
        `  a DNS TXT record  ${txtName(added.hostname)}  "${added.verificationToken}"`,
        `  or a file at      ${files[0]}  containing  ${added.verificationToken}`,
        `then run: npm run tenant -- verify-domain --slug ${values.slug} --domain ${added.hostname}`,
      ].join('\n'),
    );
  }
}

/** `verify-domain`: checks the DNS record or proof file of a domain. */
async function verifyDomainCommand(env: Env, rest: string[]): Promise<void> {
  const { values } = args(rest, { slug: { type: 'string' }, domain: { type: 'string' } });
  const verified = await verifyDomain(env, {
    slug: required(values.slug, 'slug'),
    hostname: required(values.domain, 'domain'),
    actor,
  });
  console.log(
    verified.method
      ? `verified ${verified.hostname} (${verified.method === 'dns' ? 'DNS TXT record' : 'proof file'})`
      : `${verified.hostname} was verified already (${verified.verifiedAt.toISOString()})`,
  );
}

/** `suspend` and `reactivate`. */
async function setStatusCommand(
  env: Env,
  rest: string[],
  command: 'suspend' | 'reactivate',
): Promise<void> {
  const { values } = args(rest, { slug: { type: 'string' } });
  const slug = required(values.slug, 'slug');
  await setTenantStatus(env, {
    slug,
    status: command === 'suspend' ? 'suspended' : 'active',
    actor,
  });
  console.log(`${slug} ${command === 'suspend' ? 'suspended' : 'reactivated'}`);
}

/** `list`: every tenant, one a line (or JSON). */
async function listCommand(env: Env, rest: string[]): Promise<void> {
  const { values } = args(rest, { json: { type: 'boolean', default: false } });
  const tenants = await listTenants(env);
  if (values.json) {
    console.log(JSON.stringify(tenants, null, 2));
    return;
  }
  if (tenants.length === 0) console.log('no tenants');
  for (const t of tenants) {
    console.log(
      `${t.slug}\t${t.status}\t${t.plan}\t${t.placement}:${t.branch}\t${t.domainDetails.map((d) => (d.verifiedAt ? d.hostname : `${d.hostname} (unverified)`)).join(',')}\t${t.name}`,
    );
  }
}
