import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { newApp } from '../../api/app.js';
import { call } from '../support/api.js';
import { Harness } from '../support/harness.js';

/**
 * `/openapi.json` as a client generator reads it: a valid OpenAPI 3.1 document by an
 * independent validator (every `$ref` resolves, every schema and header object is well
 * formed, operation ids are unique), served by the running app.
 */

const h = await Harness.init('openapi_api', { runtimes: ['node'] });

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const r = await call(h.target('node'), 'GET', '/openapi.json', { host: 'localhost' });
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe('3.1.0');
    // validate() dereferences in place: give it a copy.
    const api = await SwaggerParser.validate(structuredClone(r.json));
    expect(Object.keys(api.paths ?? {}).length).toBeGreaterThan(50);
  });
});

describe('request body examples', () => {
  it('every example the document gives is a body its route accepts', async () => {
    const r = await call(h.target('node'), 'GET', '/openapi.json', { host: 'localhost' });
    const doc = r.json as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { example?: unknown }> } }>
      >;
    };
    // The route definitions hold the zod schemas the validator checks bodies with.
    const app = newApp({
      services: () => {
        throw new Error('no requests are served here');
      },
    });
    const refused: string[] = [];
    let checked = 0;
    for (const d of app.openAPIRegistry.definitions) {
      if (d.type !== 'route') continue;
      const media = d.route.request?.body?.content?.['application/json'];
      const schema = media && 'schema' in media ? media.schema : undefined;
      if (!schema || !('safeParse' in schema)) continue;
      const path = d.route.path.replace(/:(\w+)/g, '{$1}');
      const example =
        doc.paths[path]?.[d.route.method]?.requestBody?.content['application/json']?.example;
      checked++;
      const parsed = (
        schema as { safeParse(v: unknown): { success: boolean; error?: unknown } }
      ).safeParse(example);
      if (!parsed.success)
        refused.push(`${d.route.method.toUpperCase()} ${path}: ${String(parsed.error)}`);
    }
    expect(checked).toBeGreaterThan(40);
    expect(refused).toEqual([]);
  });
});
