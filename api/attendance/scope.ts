import * as t from '../../db/schema/tenant.js';
import { classRules, type ScopeRules } from '../auth/scope.js';

export const permissions = { read: 'attendance.read', write: 'attendance.write' };

/** Classes by who takes their attendance: the school's staff and the class's teachers. */
export function staffClassRules(): ScopeRules {
  const { org, teacher } = classRules(t.classes.id, t.classes.schoolId);
  return { org, teacher };
}
