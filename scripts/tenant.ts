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
                           [--plan P] [--timezone TZ] --admin-email E --admin-password P [--admin-name "First Last"]
                           [--platform-admin]   (the operator tenant: its first admin may use /v1/platform)
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
    case 'create': {
      const { values } = args(rest, {
        slug: { type: 'string' },
        name: { type: 'string' },
        domain: { type: 'string', multiple: true },
        placement: { type: 'string', default: 'pool' },
        plan: { type: 'string' },
        timezone: { type: 'string' },
        'admin-email': { type: 'string' },
        'admin-password': { type: 'string' },
        'admin-name': { type: 'string' },
        'platform-admin': { type: 'boolean', default: false },
      });
      const placement = values.placement;
      if (placement !== 'pool' && placement !== 'dedicated') {
        throw new UsageError('--placement must be pool or dedicated');
      }
      const tenant = await createTenant(env, {
        slug: required(values.slug, 'slug'),
        name: required(values.name, 'name'),
        domains: required(values.domain, 'domain'),
        placement,
        ...(values.plan ? { plan: values.plan } : {}),
        ...(values.timezone ? { timezone: values.timezone } : {}),
        adminEmail: required(values['admin-email'], 'admin-email'),
        adminPassword: required(values['admin-password'], 'admin-password'),
        ...(values['admin-name'] ? { adminName: values['admin-name'] } : {}),
        ...(values['platform-admin'] ? { platformAdmin: true } : {}),
        actor,
      });
      console.log(
        `created tenant ${tenant.slug} (${tenant.id}) on ${tenant.placement} branch ${tenant.branch}; admin user ${tenant.adminUserId}` +
          (values['platform-admin'] ? ' (platform admin)' : ''),
      );
      return;
    }
    case 'add-domain': {
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
      return;
    }
    case 'verify-domain': {
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
      return;
    }
    case 'suspend':
    case 'reactivate': {
      const { values } = args(rest, { slug: { type: 'string' } });
      const slug = required(values.slug, 'slug');
      await setTenantStatus(env, {
        slug,
        status: command === 'suspend' ? 'suspended' : 'active',
        actor,
      });
      console.log(`${slug} ${command === 'suspend' ? 'suspended' : 'reactivated'}`);
      return;
    }
    case 'list': {
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
      return;
    }
    default:
      throw new UsageError(command ? `unknown command "${command}"` : 'a command is required');
  }
}, USAGE);
