/**
 * Proof that whoever adds a domain to a tenant controls it, before the domain serves the
 * tenant or counts as its site: a DNS TXT record `_homeroom-verify.<host>` holding the
 * domain's token (read through a DNS-over-HTTPS resolver, JSON format), or the token served
 * at `/.well-known/homeroom-verify.txt` on the site. Runtime-neutral: `fetch` only.
 */

/** Where the two proofs are checked. */
export interface VerificationSettings {
  /** DNS-over-HTTPS JSON endpoint, e.g. `https://cloudflare-dns.com/dns-query`. */
  resolverUrl: string;
  /** Space-separated addresses of the proof file, `{host}` standing for the hostname. */
  fileUrls: string;
}

export type VerificationMethod = 'dns' | 'http';

/** The TXT record name that proves a host. */
export const txtName = (hostname: string) => `_homeroom-verify.${hostname}`;

export const fileUrlsOf = (settings: VerificationSettings, hostname: string): string[] =>
  settings.fileUrls
    .split(/\s+/)
    .filter(Boolean)
    .map((u) => u.replaceAll('{host}', hostname));

/** A new token: 128 random bits, URL-safe, recognisable in a DNS zone. */
export function newVerificationToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const b64 = btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  return `homeroom-verify-${b64}`;
}

const TIMEOUT_MS = 5_000;

/** TXT strings of a DoH JSON answer: `"a" "b"` (split strings) join into `ab`. */
function txtValues(answer: unknown): string[] {
  const rows = (answer as { Answer?: { type?: number; data?: unknown }[] })?.Answer;
  if (!Array.isArray(rows)) return [];
  return rows
    .filter((r) => r.type === 16 && typeof r.data === 'string')
    .map((r) => (r.data as string).trim().replace(/^"|"$/g, '').replace(/"\s+"/g, ''));
}

async function dnsProof(settings: VerificationSettings, hostname: string, token: string) {
  const url = new URL(settings.resolverUrl);
  url.searchParams.set('name', txtName(hostname));
  url.searchParams.set('type', 'TXT');
  const res = await fetch(url, {
    headers: { accept: 'application/dns-json' },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!res.ok) return false;
  return txtValues(await res.json()).includes(token);
}

async function fileProof(url: string, token: string) {
  // No redirects: the proof must be served by the host itself.
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!res.ok) return false;
  const text = await res.text();
  return text.length <= 1024 && text.trim() === token;
}

/**
 * How the host proves control with `token` — DNS first, then each proof-file address — or
 * null when no proof is found. A failing resolver or site is no proof, not an error.
 */
export async function findProof(
  settings: VerificationSettings,
  hostname: string,
  token: string,
): Promise<VerificationMethod | null> {
  if (await dnsProof(settings, hostname, token).catch(() => false)) return 'dns';
  for (const url of fileUrlsOf(settings, hostname)) {
    if (await fileProof(url, token).catch(() => false)) return 'http';
  }
  return null;
}
