/**
 * Sizes of the synthetic networks. Everything else (rates, mixes, timing) is the same in
 * every preset, so a behaviour seen on `small` in a test is the behaviour of `large`.
 */

export const PRESET_NAMES = ['small', 'school', 'demo', 'large'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** Grade spans a school can serve; microschools group their grades into multi-age bands. */
export type GradeSpan = 'K-5' | '6-8' | '9-12' | 'K-8';

export interface SchoolPlan {
  kind: 'school' | 'microschool';
  span: GradeSpan;
  /** Students per grade level at full enrollment (before per-school variation). */
  perGrade: number;
}

export interface Preset {
  name: PresetName;
  /** State codes of the regions, in order; schools are dealt to them round-robin. */
  states: readonly string[];
  schools: readonly SchoolPlan[];
  /** Leads over the ~18 months before as-of. */
  leads: number;
  /** Gradebook items per class per term; sized so last year alone meets the score target. */
  assignmentsPerTerm: number;
  /** Password of the demo logins (and of an admin the CLI creates). */
  password: string;
}

function repeat(n: number, plan: SchoolPlan): SchoolPlan[] {
  return Array.from({ length: n }, () => plan);
}

export const PRESETS: Record<PresetName, Preset> = {
  small: {
    name: 'small',
    states: ['AZ'],
    schools: [
      { kind: 'school', span: 'K-5', perGrade: 7 },
      { kind: 'microschool', span: 'K-8', perGrade: 2 },
    ],
    leads: 300,
    assignmentsPerTerm: 10,
    password: 'Homeroom-Small-2026!',
  },
  /** One K-8 school on its own: the demo's single-school tenant. */
  school: {
    name: 'school',
    states: ['AZ'],
    schools: [{ kind: 'school', span: 'K-8', perGrade: 40 }],
    leads: 600,
    assignmentsPerTerm: 12,
    password: 'Homeroom-School-2026!',
  },
  demo: {
    name: 'demo',
    states: ['AZ', 'FL'],
    schools: [
      { kind: 'school', span: 'K-5', perGrade: 50 },
      { kind: 'school', span: '6-8', perGrade: 110 },
      { kind: 'school', span: '9-12', perGrade: 115 },
      { kind: 'school', span: 'K-8', perGrade: 38 },
      { kind: 'microschool', span: 'K-8', perGrade: 5 },
    ],
    leads: 3_000,
    assignmentsPerTerm: 12,
    password: 'Homeroom-Demo-2026!',
  },
  /**
   * The benchmarks' size (BENCHMARKS.md): ≥ 20 schools, ≥ 20,000 students, ≥ 4 M scores, ≥ 50,000
   * leads, ≥ 100,000 invoices. The previous school year is always complete, so it alone is sized to
   * meet the score and invoice targets: the totals hold for any as-of, even the first day of
   * school.
   */
  large: {
    name: 'large',
    states: ['AZ', 'FL', 'UT', 'TX'],
    schools: [
      ...repeat(7, { kind: 'school', span: 'K-5', perGrade: 161 }),
      ...repeat(5, { kind: 'school', span: '6-8', perGrade: 318 }),
      ...repeat(4, { kind: 'school', span: '9-12', perGrade: 366 }),
      ...repeat(4, { kind: 'school', span: 'K-8', perGrade: 130 }),
      ...repeat(3, { kind: 'microschool', span: 'K-8', perGrade: 5 }),
    ],
    leads: 52_000,
    assignmentsPerTerm: 18,
    password: 'Homeroom-Large-2026!',
  },
};

export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}
