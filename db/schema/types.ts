import type { Db } from '../connection.js';
import type * as control from './control.js';
import type * as tenant from './tenant.js';

/** The drizzle schema of a tenant branch (`import * as t from './tenant.js'`), as a type. */
export type TenantSchema = typeof tenant;

/** The drizzle schema of the control plane, as a type. */
export type ControlSchema = typeof control;

/** The control plane's database, over any driver. */
export type ControlDb = Db<ControlSchema>;
