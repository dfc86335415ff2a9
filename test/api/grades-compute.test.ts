import { describe, expect, it } from 'vitest';
import {
  bandFor,
  bandsOf,
  finalGradeOf,
  gpaOf,
  letterFor,
  percentOf,
  type ScoreLine,
} from '../../api/grades/compute.js';

/**
 * The grade arithmetic of docs/metrics.md#grades, case by case (the definitions of
 * analytics/metrics/grades.ts).
 */

const line = (over: Partial<ScoreLine>): ScoreLine => ({
  points: null,
  pointsPossible: 10,
  weight: 1,
  isMissing: false,
  isExcused: false,
  dueDate: '2025-09-10',
  ...over,
});

const DEFAULT = bandsOf(null);
const PLUS = bandsOf([
  { letter: 'A+', min_percent: 97, points: 4.3 },
  { letter: 'A', min_percent: 93, points: 4 },
  { letter: 'B', min_percent: 85, points: 3 },
  { letter: 'C', min_percent: 75, points: 2 },
  { letter: 'NP', min_percent: 65, points: 0 },
]);

describe('percentOf', () => {
  const cases: [string, ScoreLine[], string | undefined, number | null][] = [
    [
      'plain points over points possible',
      [line({ points: 8 }), line({ points: 6 })],
      undefined,
      70,
    ],
    [
      'weights scale points and points possible alike',
      [line({ points: 10, weight: 3 }), line({ points: 0, pointsPossible: 10, weight: 1 })],
      undefined,
      75,
    ],
    [
      'points possible differ per assignment',
      [line({ points: 45, pointsPossible: 50 }), line({ points: 5, pointsPossible: 50 })],
      undefined,
      50,
    ],
    [
      'an excused score is left out',
      [line({ points: 9 }), line({ isExcused: true })],
      undefined,
      90,
    ],
    [
      'an excused score with points is still left out',
      [line({ points: 9 }), line({ points: 0, isExcused: true })],
      undefined,
      90,
    ],
    [
      'a missing score counts 0 of its points',
      [line({ points: 9 }), line({ isMissing: true })],
      undefined,
      45,
    ],
    [
      'a missing score with stray points still counts 0',
      [line({ points: 10 }), line({ points: 10, isMissing: true })],
      undefined,
      50,
    ],
    ['an ungraded score is left out', [line({ points: 7 }), line({ points: null })], undefined, 70],
    [
      'nothing graded: no percentage',
      [line({ points: null }), line({ isExcused: true })],
      undefined,
      null,
    ],
    ['no scores: no percentage', [], undefined, null],
    ['zero weight everywhere: no percentage', [line({ points: 5, weight: 0 })], undefined, null],
    [
      'assignments due after the as-of date do not count yet',
      [line({ points: 10, dueDate: '2025-09-01' }), line({ points: 0, dueDate: '2025-09-02' })],
      '2025-09-01',
      100,
    ],
    [
      'the as-of date itself counts',
      [line({ points: 10, dueDate: '2025-09-01' }), line({ points: 0, dueDate: '2025-09-02' })],
      '2025-09-02',
      50,
    ],
    ['extra credit may pass 100', [line({ points: 11 })], undefined, 110],
  ];
  it.each(cases)('%s', (_name, lines, asOf, expected) => {
    const got = percentOf(lines, asOf);
    if (expected === null) expect(got).toBeNull();
    else expect(got).toBeCloseTo(expected, 10);
  });
});

describe('letters', () => {
  const cases: [string, number | null, typeof DEFAULT, string | null][] = [
    ['90 is an A on the default scale', 90, DEFAULT, 'A'],
    ['89.99 is a B (no rounding up)', 89.99, DEFAULT, 'B'],
    ['80 is a B', 80, DEFAULT, 'B'],
    ['79.999 is a C', 79.999, DEFAULT, 'C'],
    ['60 is a D', 60, DEFAULT, 'D'],
    ['59.99 is an F', 59.99, DEFAULT, 'F'],
    ['0 is an F', 0, DEFAULT, 'F'],
    ['over 100 is an A', 112, DEFAULT, 'A'],
    ['no percentage, no letter', null, DEFAULT, null],
    ['a custom scale: 97 is an A+', 97, PLUS, 'A+'],
    ['a custom scale: 92.5 is a B', 92.5, PLUS, 'B'],
    ['below every minimum: the lowest band', 40, PLUS, 'NP'],
  ];
  it.each(cases)('%s', (_name, percent, bands, expected) => {
    expect(letterFor(percent, bands)).toBe(expected);
  });

  it('reads a stored scale in any order and falls back to A–F when it holds no usable band', () => {
    const shuffled = bandsOf([
      { letter: 'F', min_percent: 0, points: 0 },
      { letter: 'P', min_percent: 50, points: 2 },
    ]);
    expect(shuffled.map((b) => b.letter)).toEqual(['P', 'F']);
    for (const junk of [null, {}, [], [{ letter: 5 }], [{ letter: 'A' }], 'A']) {
      expect(bandsOf(junk).map((b) => b.letter)).toEqual(['A', 'B', 'C', 'D', 'F']);
    }
    expect(bandFor(85, DEFAULT)).toEqual({ letter: 'B', min_percent: 80, points: 3 });
  });
});

describe('gpaOf', () => {
  const cases: [
    string,
    { gradePoints: number | null; creditsAttempted: number | null }[],
    number | null,
  ][] = [
    ['one class', [{ gradePoints: 3, creditsAttempted: 1 }], 3],
    [
      'weighted by credits',
      [
        { gradePoints: 4, creditsAttempted: 1 },
        { gradePoints: 2, creditsAttempted: 0.5 },
      ],
      3.33,
    ],
    [
      'grade points above 4 are capped (4.0 scale)',
      [
        { gradePoints: 4.3, creditsAttempted: 1 },
        { gradePoints: 3, creditsAttempted: 1 },
      ],
      3.5,
    ],
    [
      'zero-credit and ungraded classes are left out',
      [
        { gradePoints: 0, creditsAttempted: 0 },
        { gradePoints: null, creditsAttempted: 1 },
        { gradePoints: 2, creditsAttempted: 1 },
      ],
      2,
    ],
    [
      'an F counts with its credits',
      [
        { gradePoints: 0, creditsAttempted: 1 },
        { gradePoints: 4, creditsAttempted: 1 },
      ],
      2,
    ],
    ['nothing completed: no GPA', [], null],
  ];
  it.each(cases)('%s', (_name, classes, expected) => {
    expect(gpaOf(classes)).toBe(expected);
  });
});

describe('finalGradeOf', () => {
  const cases: [string, number, typeof DEFAULT, number, object][] = [
    [
      'a B earns its credits',
      85.456,
      DEFAULT,
      1,
      {
        finalPercent: 85.46,
        finalGrade: 'B',
        gradePoints: 3,
        creditsAttempted: 1,
        creditsEarned: 1,
      },
    ],
    [
      'an F attempts but earns nothing',
      42,
      DEFAULT,
      0.5,
      {
        finalPercent: 42,
        finalGrade: 'F',
        gradePoints: 0,
        creditsAttempted: 0.5,
        creditsEarned: 0,
      },
    ],
    [
      'the letter comes from the unrounded percentage',
      89.996,
      DEFAULT,
      1,
      { finalPercent: 90, finalGrade: 'B', gradePoints: 3 },
    ],
    [
      'a custom scale gives its own letter and points',
      98,
      PLUS,
      1,
      { finalGrade: 'A+', gradePoints: 4.3, creditsEarned: 1 },
    ],
    ['a 0-point band fails', 70, PLUS, 1, { finalGrade: 'NP', gradePoints: 0, creditsEarned: 0 }],
  ];
  it.each(cases)('%s', (_name, percent, bands, credits, expected) => {
    expect(finalGradeOf(percent, bands, credits)).toMatchObject(expected);
  });
});
