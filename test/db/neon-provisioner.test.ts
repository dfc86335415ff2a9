import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  NeonApiError,
  NeonProvisioner,
  neonProvisionerFromEnv,
  pooledHost,
  type NeonProvisionerOptions,
} from '../../db/branches/neon.js';
import type { ProvisionedBranch } from '../../db/branches/provisioner.js';
import { parseDbEnv } from '../../db/env.js';

// The same ids the recorded contract under test/fixtures/neon uses.
const API_KEY = 'napi_7c1f0e9b2d4a6c8e0f1a3b5d7e9f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f';
const PROJECT_ID = 'shy-pond-12345678';
const TEMPLATE_BRANCH_ID = 'br-calm-river-a1b2c3d4';
const BRANCH_ID = 'br-late-sound-a1b2c3d4';
const ENDPOINT_ID = 'ep-quiet-field-a1b2c3d4';
const TENANT = 't-lincoln-high';
// Every character here means something in a URI; the app URL must survive all of them.
const APP_PASSWORD = 'p@ss:w/rd#1 %?&';
const ENCODED_APP_PASSWORD = 'p%40ss%3Aw%2Frd%231%20%25%3F%26';

const exchangeSchema = z.object({
  request: z.object({
    method: z.enum(['GET', 'POST', 'DELETE']),
    path: z.string(),
    query: z.record(z.string(), z.string()).optional(),
    body: z.unknown().optional(),
  }),
  response: z.object({
    status: z.number().int(),
    statusText: z.string().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown().optional(),
  }),
});
type Exchange = z.infer<typeof exchangeSchema> & { repeat?: boolean };
const fixtureSchema = z.object({ description: z.string(), exchanges: z.array(exchangeSchema) });

function contract(name: string): Exchange[] {
  const text = readFileSync(new URL(`../fixtures/neon/${name}.json`, import.meta.url), 'utf8');
  return fixtureSchema.parse(JSON.parse(text)).exchanges;
}

function exchange(name: string, index: number): Exchange {
  const found = contract(name)[index];
  if (!found) throw new Error(`fixture ${name} has no exchange ${index}`);
  return found;
}

/** What we compare for every request: the drift we care about in what we send. */
interface SentRequest {
  method: string;
  origin: string;
  path: string;
  query: Record<string, string>;
  authorization: string | null;
  accept: string | null;
  contentType: string | null;
  body: unknown;
}

function expectedRequest(ex: Exchange): SentRequest {
  return {
    method: ex.request.method,
    origin: 'https://console.neon.tech',
    path: ex.request.path,
    query: ex.request.query ?? {},
    authorization: `Bearer ${API_KEY}`,
    accept: 'application/json',
    contentType: ex.request.body === undefined ? null : 'application/json',
    body: ex.request.body,
  };
}

/** A fake Neon that answers from the recorded contract and checks each request against it. */
class ReplayedNeon {
  readonly sent: SentRequest[] = [];
  readonly mismatches: { actual: SentRequest; expected: SentRequest | undefined }[] = [];
  private readonly script: Exchange[];

  constructor(exchanges: Exchange[]) {
    this.script = [...exchanges];
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    const raw = init?.body;
    const actual: SentRequest = {
      method: init?.method ?? 'GET',
      origin: url.origin,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: headers.get('authorization'),
      accept: headers.get('accept'),
      contentType: headers.get('content-type'),
      body: typeof raw === 'string' ? (JSON.parse(raw) as unknown) : (raw ?? undefined),
    };
    this.sent.push(actual);

    let next = this.script[0];
    // A repeating exchange answers until a request no longer matches it.
    while (next?.repeat && !isDeepStrictEqual(actual, expectedRequest(next)) && this.script[1]) {
      this.script.shift();
      next = this.script[0];
    }
    const expected = next && expectedRequest(next);
    if (!next || !isDeepStrictEqual(actual, expected)) {
      this.mismatches.push({ actual, expected });
      // Fail loudly and without retry value: the provisioner must not mask a contract break.
      throw new Error(`contract mismatch for ${actual.method} ${actual.path}`);
    }
    if (!next.repeat) this.script.shift();

    const { status, statusText, headers: responseHeaders, body } = next.response;
    return new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      ...(statusText ? { statusText } : {}),
      headers: responseHeaders ?? {},
    });
  };

  get unanswered(): number {
    return this.script.filter((ex) => !ex.repeat).length;
  }

  /** Every request matched the contract and every recorded exchange was used. */
  verify(): void {
    const first = this.mismatches[0];
    if (first) expect(first.actual).toEqual(first.expected);
    expect(this.unanswered).toBe(0);
  }
}

let neon: ReplayedNeon | undefined;
let sleeps: number[] = [];

afterEach(() => {
  neon?.verify();
  neon = undefined;
  sleeps = [];
});

function provisioner(
  exchanges: Exchange[],
  overrides: Partial<NeonProvisionerOptions> = {},
): NeonProvisioner {
  neon = new ReplayedNeon(exchanges);
  return new NeonProvisioner({
    apiKey: API_KEY,
    projectId: PROJECT_ID,
    apiUrl: 'https://console.neon.tech/api/v2',
    templateBranchId: TEMPLATE_BRANCH_ID,
    databaseName: 'homeroom',
    ownerRole: 'homeroom_owner',
    appRole: 'homeroom_app',
    appPassword: APP_PASSWORD,
    fetch: neon.fetch,
    pollIntervalMs: 1_000,
    timeoutMs: 60_000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
}

/** Awaits a rejection and checks the one property every error path must have. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  const err = error as Error;
  expect(err.message).not.toContain(API_KEY);
  expect(String(err.cause ?? '')).not.toContain(API_KEY);
  return err;
}

const createdBranch: ProvisionedBranch = {
  name: TENANT,
  provider: 'neon',
  databaseName: 'homeroom',
  appUrl: `postgres://homeroom_app:${ENCODED_APP_PASSWORD}@${ENDPOINT_ID}-pooler.us-east-2.aws.neon.tech/homeroom?sslmode=require`,
  neon: { projectId: PROJECT_ID, branchId: BRANCH_ID, endpointId: ENDPOINT_ID },
};

describe('NeonProvisioner.create', () => {
  it('polls operations until finished and the endpoint until active, then returns the pooled app URL', async () => {
    const branch = await provisioner(contract('create-branch')).create(TENANT);

    expect(branch).toEqual(createdBranch);
    // create_branch + start_compute polled, start_compute again, then the endpoint once more.
    expect(sleeps).toEqual([1_000, 1_000, 1_000]);
    expect(new URL(branch.appUrl).password).toBe(ENCODED_APP_PASSWORD);
    expect(decodeURIComponent(new URL(branch.appUrl).password)).toBe(APP_PASSWORD);
  });

  it('retries a 423 Locked after the Retry-After Neon sends, then carries on', async () => {
    const branch = await provisioner(contract('create-branch-locked')).create(TENANT);

    expect(branch).toEqual(createdBranch);
    expect(sleeps).toEqual([2_000]);
    expect(neon?.sent.filter((r) => r.method === 'POST')).toHaveLength(2);
  });

  it('gives up on a project that stays locked, naming the request, status and Neon message', async () => {
    const locked = exchange('create-branch-locked', 0);
    const p = provisioner([locked, locked, locked], { maxRetries: 2 });

    const error = await rejection(p.create(TENANT));

    expect(error).toBeInstanceOf(NeonApiError);
    expect((error as NeonApiError).status).toBe(423);
    expect(error.message).toContain(`POST /projects/${PROJECT_ID}/branches returned 423`);
    expect(error.message).toContain('scheduling of new ones is prohibited');
    expect(sleeps).toEqual([2_000, 2_000]);
  });

  it('backs off exponentially on a 503 that has no Retry-After', async () => {
    const locked = exchange('create-branch-locked', 0);
    const unavailable: Exchange = {
      request: locked.request,
      response: { status: 503, statusText: 'Service Unavailable', body: { message: 'try later' } },
    };
    const [, created, active] = contract('create-branch-locked');

    await provisioner([unavailable, unavailable, created!, active!]).create(TENANT);

    expect(sleeps).toEqual([500, 1_000]);
  });

  it('rejects with the operation error when an operation fails, and deletes the half-created branch', async () => {
    const error = await rejection(
      provisioner(contract('create-branch-operation-failed')).create(TENANT),
    );

    expect(error.message).toContain(
      `Neon operation start_compute (b8e2d6f0-1c3a-4f5b-8d7e-9a0c2e4f6b18) for branch ${TENANT} (${BRANCH_ID}) ended with status failed`,
    );
    expect(error.message).toContain('did not become ready within 300s');
    expect(error.message).toContain(`the half-created branch ${BRANCH_ID} was deleted`);
    expect(neon?.sent.at(-1)?.method).toBe('DELETE');
  });

  it('rejects once the timeout is spent while an operation is still running', async () => {
    const running = { ...exchange('operation-running', 0), repeat: true };
    const p = provisioner(
      [
        exchange('create-branch', 0),
        exchange('create-branch', 1),
        running,
        exchange('delete-branch', 0),
      ],
      { timeoutMs: 5_000 },
    );

    const error = await rejection(p.create(TENANT));

    expect(error.message).toContain(
      `timed out after 5000 ms waiting for Neon branch ${TENANT} (${BRANCH_ID})`,
    );
    expect(error.message).toContain('start_compute');
    expect(error.message).toContain(`the half-created branch ${BRANCH_ID} was deleted`);
    // Bounded: five polls of one interval each, then no more.
    expect(sleeps).toEqual([1_000, 1_000, 1_000, 1_000, 1_000]);
  });

  it('reports a branch it could not clean up so an operator can remove it', async () => {
    const notAllowed: Exchange = {
      request: exchange('delete-branch', 0).request,
      response: {
        status: 400,
        statusText: 'Bad Request',
        body: { code: '', message: 'branch has children' },
      },
    };
    const p = provisioner([...contract('create-branch-operation-failed').slice(0, 3), notAllowed]);

    const error = await rejection(p.create(TENANT));

    expect(error.message).toContain(`deleting the half-created branch ${BRANCH_ID} also failed`);
    expect(error.message).toContain('branch has children');
  });
});

describe('NeonProvisioner.ownerUrl', () => {
  it('asks Neon for the unpooled owner URI of the branch', async () => {
    const uri = await provisioner(contract('connection-uri')).ownerUrl(createdBranch);

    expect(uri).toBe(
      `postgresql://homeroom_owner:npg_Xk3vQ9tLm2Ws@${ENDPOINT_ID}.us-east-2.aws.neon.tech/homeroom?sslmode=require&channel_binding=require`,
    );
  });

  it('refuses a branch that is not on Neon without calling the API', async () => {
    const local: ProvisionedBranch = {
      name: 't-local',
      provider: 'local',
      databaseName: 't_local',
      appUrl: 'postgres://homeroom_app@127.0.0.1/t_local',
    };
    const error = await rejection(provisioner([]).ownerUrl(local));

    expect(error.message).toBe('branch t-local is not a Neon branch');
    expect(neon?.sent).toEqual([]);
  });
});

describe('NeonProvisioner.drop', () => {
  it('deletes the branch', async () => {
    await provisioner(contract('delete-branch')).drop(createdBranch);
  });

  it('treats a branch that is already gone (404) as dropped', async () => {
    await provisioner(contract('delete-branch-not-found')).drop(createdBranch);
  });

  it('never deletes the template branch', async () => {
    const template: ProvisionedBranch = {
      ...createdBranch,
      neon: { projectId: PROJECT_ID, branchId: TEMPLATE_BRANCH_ID, endpointId: ENDPOINT_ID },
    };
    const error = await rejection(provisioner([]).drop(template));

    expect(error.message).toContain('refusing to delete the template branch');
    expect(neon?.sent).toEqual([]);
  });
});

describe('errors and the API key', () => {
  it('names method, path, status and Neon message on a 401, without the key', async () => {
    const error = await rejection(provisioner(contract('unauthorized')).create(TENANT));

    expect(error.message).toBe(
      `Neon API POST /projects/${PROJECT_ID}/branches returned 401 Unauthorized: authorization failed (request_id 2e8c4a60-5b1d-4f7e-9a3c-6d0b8e2f4a19)`,
    );
  });

  it('redacts the key if Neon ever echoes it back', async () => {
    const [unauthorized] = contract('unauthorized');
    const echoing: Exchange = {
      ...unauthorized!,
      response: {
        ...unauthorized!.response,
        body: { message: `api key ${API_KEY} is not valid` },
      },
    };
    const error = await rejection(provisioner([echoing]).create(TENANT));

    expect(error.message).toContain('api key [redacted] is not valid');
  });

  it('does not retry a POST that got no response, and says so without the key', async () => {
    const p = provisioner([], {
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    const error = await rejection(p.create(TENANT));

    expect(error.message).toBe(
      `Neon API POST /projects/${PROJECT_ID}/branches failed without a response: fetch failed`,
    );
    expect(sleeps).toEqual([]);
  });
});

describe('pooledHost', () => {
  it('puts -pooler after the endpoint id, in old and regional host formats', () => {
    expect(pooledHost({ id: ENDPOINT_ID, host: `${ENDPOINT_ID}.us-east-2.aws.neon.tech` })).toBe(
      `${ENDPOINT_ID}-pooler.us-east-2.aws.neon.tech`,
    );
    expect(
      pooledHost({
        id: 'ep-cool-darkness-a5b6c7d8',
        host: 'ep-cool-darkness-a5b6c7d8.c-3.us-east-2.aws.neon.tech',
      }),
    ).toBe('ep-cool-darkness-a5b6c7d8-pooler.c-3.us-east-2.aws.neon.tech');
  });

  it('rejects a host that does not start with the endpoint id', () => {
    expect(() => pooledHost({ id: ENDPOINT_ID, host: 'db.example.com' })).toThrow(
      /unexpected host db\.example\.com/,
    );
  });
});

describe('neonProvisionerFromEnv', () => {
  it('names every missing setting and shows no secret', () => {
    const env = parseDbEnv({ APP_DB_PASSWORD: undefined });

    expect(() => neonProvisionerFromEnv(env)).toThrow(
      'the Neon provisioner needs NEON_API_KEY, NEON_PROJECT_ID, NEON_TEMPLATE_BRANCH_ID, APP_DB_PASSWORD',
    );
  });

  it('builds a provisioner that talks to the configured project with the configured key', async () => {
    const env = parseDbEnv({
      BRANCH_PROVIDER: 'neon',
      NEON_API_KEY: API_KEY,
      NEON_PROJECT_ID: PROJECT_ID,
      NEON_TEMPLATE_BRANCH_ID: TEMPLATE_BRANCH_ID,
      APP_DB_PASSWORD: APP_PASSWORD,
    });
    neon = new ReplayedNeon(contract('connection-uri'));

    const p = neonProvisionerFromEnv(env, {
      fetch: neon.fetch,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });

    expect(p.provider).toBe('neon');
    await expect(p.ownerUrl(createdBranch)).resolves.toMatch(/^postgresql:\/\/homeroom_owner:/);
  });
});
