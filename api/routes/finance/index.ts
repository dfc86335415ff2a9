import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerAccounts } from './accounts.js';
import { registerInvoices } from './invoices.js';
import { registerPayments } from './payments.js';

/** Family billing: accounts and statements, invoices, payments and their allocations. */
export function registerFinanceRoutes(app: OpenAPIHono<AppEnv>): void {
  registerAccounts(app);
  registerInvoices(app);
  registerPayments(app);
}
