import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/api.js';
import { createApiWorld, type ApiWorld } from '../support/api-world.js';

/**
 * `/openapi.json` as a client generator reads it: a valid OpenAPI 3.1 document by an
 * independent validator (every `$ref` resolves, every schema and header object is well
 * formed, operation ids are unique), served by the running app.
 */

// Loaded by name so that the type-check holds while the package is not yet installed.
const VALIDATOR = '@apidevtools/swagger-parser';

let world: ApiWorld;

beforeAll(async () => {
  world = await createApiWorld('openapi_api', { runtimes: ['node'] });
}, 120_000);

afterAll(async () => {
  await world?.close();
});

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const r = await call(world.targets[0]!, 'GET', '/openapi.json', { host: 'localhost' });
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe('3.1.0');
    // validate() dereferences in place: give it a copy.
    const { default: SwaggerParser } = (await import(VALIDATOR)) as {
      default: { validate(api: object): Promise<{ paths?: object }> };
    };
    const api = await SwaggerParser.validate(structuredClone(r.json));
    expect(Object.keys(api.paths ?? {}).length).toBeGreaterThan(50);
  });
});
