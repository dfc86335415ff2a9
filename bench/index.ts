import { benchDashboards } from './dashboards.js';
import { benchImport } from './import.js';
import { benchInquiry } from './inquiry.js';
import { benchInvitations } from './invitations.js';
import { benchRefresh } from './refresh.js';

/** `npm run bench`: every benchmark, printing figures and ratios against in-run baselines. */
const only = process.argv.slice(2);
const want = (name: string) => only.length === 0 || only.includes(name);

if (want('inquiry')) await benchInquiry();
if (want('refresh')) await benchRefresh();
if (want('dashboards')) await benchDashboards();
if (want('import')) await benchImport();
if (want('invitations')) await benchInvitations();
