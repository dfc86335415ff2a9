/**
 * Admissions leads: first touch over the ~18 months before as-of (seasonal, growing), then
 * stage by stage through the funnel with falling conversion, some skipped stages, stalls that
 * end in `lost`, and touchpoints for each step. Each lead is simulated from its own stream,
 * so the leads, stage-history and touchpoint tables re-derive the same story independently.
 */
import { DAY_MS, localMs, weekday, ymdOf } from './dates.js';
import { FIRST_NAMES_F, FIRST_NAMES_M, LAST_NAMES, LEAD_MESSAGES, LOST_REASONS } from './names.js';
import { Stream, rngFor, type Rng } from './random.js';
import { emailPart } from './world/families.js';
import { GRADE_LABELS, atMost, type World } from './world/model.js';

export const FUNNEL = [
  'inquiry',
  'tour_scheduled',
  'tour_completed',
  'application_started',
  'application_submitted',
  'accepted',
  'enrolled',
] as const;
const ENROLLED = FUNNEL.length - 1;
/** P(reach stage k+1 | reached k): falls stage by stage; inquiry→enrolled ≈ 12 %. */
const ADVANCE = [0.55, 0.76, 0.72, 0.8, 0.82, 0.74];
/** Mean days each move takes. */
const GAP_DAYS = [4, 8, 9, 10, 14, 16];
/** Share of stalled leads that staff eventually mark lost (the rest sit open). */
const LOST_SHARE = 0.47;
const WINDOW_DAYS = 548;

interface Source {
  source: string;
  medium: string;
  channel: string;
  weight: number;
  referrer: string | null;
  /** Multiplies the chance of booking a tour: referrals convert, paid social less so. */
  quality: number;
  paid: boolean;
}

const SOURCES: Source[] = [
  {
    source: 'google',
    medium: 'cpc',
    channel: 'paid_search',
    weight: 26,
    referrer: 'https://www.google.com/',
    quality: 1,
    paid: true,
  },
  {
    source: 'google',
    medium: 'organic',
    channel: 'organic_search',
    weight: 10,
    referrer: 'https://www.google.com/',
    quality: 1.05,
    paid: false,
  },
  {
    source: 'facebook',
    medium: 'paid_social',
    channel: 'paid_social',
    weight: 15,
    referrer: 'https://m.facebook.com/',
    quality: 0.8,
    paid: true,
  },
  {
    source: 'instagram',
    medium: 'paid_social',
    channel: 'paid_social',
    weight: 7,
    referrer: 'https://l.instagram.com/',
    quality: 0.75,
    paid: true,
  },
  {
    source: 'referral',
    medium: 'referral',
    channel: 'referral',
    weight: 15,
    referrer: null,
    quality: 1.3,
    paid: false,
  },
  {
    source: 'website',
    medium: 'direct',
    channel: 'direct',
    weight: 12,
    referrer: null,
    quality: 1.1,
    paid: false,
  },
  {
    source: 'event',
    medium: 'offline',
    channel: 'event',
    weight: 7,
    referrer: null,
    quality: 1.2,
    paid: false,
  },
  {
    source: 'bing',
    medium: 'cpc',
    channel: 'paid_search',
    weight: 3,
    referrer: 'https://www.bing.com/',
    quality: 0.95,
    paid: true,
  },
  {
    source: 'newsletter',
    medium: 'email',
    channel: 'email',
    weight: 5,
    referrer: null,
    quality: 1,
    paid: false,
  },
];
const SEARCH_TERMS = [
  'private school near me',
  'microschool',
  'esa approved schools',
  'k-8 academy',
  'small class sizes school',
  'school tours',
];
const MONTH_WEIGHT = [1.5, 1.6, 1.4, 1.1, 0.9, 0.7, 0.9, 1.2, 0.8, 0.9, 1.0, 0.6];

export interface LeadMove {
  from: string | null;
  to: string;
  ms: number;
}

export interface LeadTouch {
  kind: string;
  channel: string;
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  utmTerm: string | null;
  utmContent: string | null;
  referrer: string | null;
  landingPage: string | null;
  details: string | null;
  ms: number;
}

export interface Lead {
  idx: number;
  schoolIdx: number;
  grade: number;
  guardianName: string;
  studentFirstName: string;
  email: string;
  phone: string | null;
  stage: string;
  score: number;
  lostReason: string | null;
  lostMs: number | null;
  enrolledMs: number | null;
  consent: boolean;
  message: string | null;
  source: string;
  firstMs: number;
  updatedMs: number;
  moves: LeadMove[];
  touches: LeadTouch[];
}

/** What every lead's simulation shares: the day and school distributions. */
export interface LeadContext {
  firstDay: number;
  cumulative: Float64Array;
  schoolWeights: number[];
}

export function leadContext(world: World): LeadContext {
  const firstDay = world.asOf - WINDOW_DAYS + 1;
  const cumulative = new Float64Array(WINDOW_DAYS);
  let total = 0;
  for (let i = 0; i < WINDOW_DAYS; i++) {
    const day = firstDay + i;
    const w = weekday(day);
    const season = MONTH_WEIGHT[ymdOf(day).month - 1]!;
    // The network grows: inquiries rise ~30 % over the window.
    total += season * (w === 0 || w === 6 ? 0.55 : 1) * (1 + (0.3 * i) / WINDOW_DAYS);
    cumulative[i] = total;
  }
  const schoolWeights = world.schools.map(
    (s) => s.perGrade * s.grades.length * (s.enrollmentOpen ? 1 : 0.15),
  );
  return { firstDay, cumulative, schoolWeights };
}

function sampleDay(ctx: LeadContext, rng: Rng): number {
  const x = rng.float() * ctx.cumulative[ctx.cumulative.length - 1]!;
  let lo = 0;
  let hi = ctx.cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ctx.cumulative[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return ctx.firstDay + lo;
}

function campaignFor(day: number, rng: Rng, esa: boolean): string {
  if (esa && rng.chance(0.15)) return 'esa-info-sessions';
  const { year, month } = ymdOf(day);
  if (month <= 4) return `spring-enrollment-${year}`;
  if (month <= 7) return `summer-open-house-${year}`;
  if (month <= 9) return `back-to-school-${year}`;
  return `fall-tours-${year}`;
}

function inquiryTouch(
  world: World,
  rng: Rng,
  src: Source,
  schoolIdx: number,
  ms: number,
): LeadTouch {
  const school = world.schools[schoolIdx]!;
  const day = Math.floor(ms / DAY_MS);
  const campaign =
    src.paid || src.medium === 'email' || src.medium === 'offline'
      ? campaignFor(day, rng, school.region.state.state !== 'TX')
      : null;
  const page = rng.pick(['admissions', 'admissions', 'tours', '']);
  return {
    kind: 'inquiry',
    channel: src.channel === 'event' ? 'in_person' : 'web',
    utmSource: src.source,
    utmMedium: src.medium,
    utmCampaign: campaign,
    utmTerm: src.medium === 'cpc' ? rng.pick(SEARCH_TERMS) : null,
    utmContent: src.paid ? rng.pick(['ad-a', 'ad-b', 'carousel', 'video']) : null,
    referrer: src.source === 'referral' ? `https://${school.slug}.example.org/refer` : src.referrer,
    landingPage: `https://${school.slug}.example.org/${page}`,
    details:
      src.source === 'event'
        ? JSON.stringify({ event: rng.pick(['Open house', 'School fair', 'Info night']) })
        : null,
    ms,
  };
}

function followUp(
  kind: string,
  channel: string,
  ms: number,
  details: string | null = null,
): LeadTouch {
  return {
    kind,
    channel,
    utmSource: null,
    utmMedium: null,
    utmCampaign: null,
    utmTerm: null,
    utmContent: null,
    referrer: null,
    landingPage: null,
    details,
    ms,
  };
}

const STEP_TOUCH: Record<string, [string, string, string | null]> = {
  tour_scheduled: ['tour_request', 'web', null],
  tour_completed: ['tour_attended', 'in_person', null],
  application_started: ['application', 'web', '{"step": "started"}'],
  application_submitted: ['application', 'web', '{"step": "submitted"}'],
  accepted: ['email', 'email', '{"template": "acceptance_letter"}'],
  enrolled: ['note', 'in_person', '{"text": "Enrollment contract signed"}'],
};

/** One lead's whole story, from its own stream. */
export function simulateLead(world: World, ctx: LeadContext, idx: number): Lead {
  const rng = rngFor(world.seed, Stream.lead, idx);
  const schoolIdx = rng.weighted(ctx.schoolWeights);
  const school = world.schools[schoolIdx]!;
  // Families mostly ask about entry grades (K, 6, 9) and the grades just above.
  const gradeWeights = school.grades.map((_, i) => (i === 0 ? 3 : i === 1 ? 1.5 : 1));
  const grade = school.grades[rng.weighted(gradeWeights)]!;
  const day = sampleDay(ctx, rng);
  const firstMs = Math.min(world.cutoffMs, localMs(school.timezone, day, rng.uniform(7, 22.5)));
  const src = SOURCES[rng.weighted(SOURCES.map((s) => s.weight))]!;
  const gFirst = rng.pick(rng.chance(0.7) ? FIRST_NAMES_F : FIRST_NAMES_M);
  const gLast = rng.pick(LAST_NAMES);
  const studentFirstName = rng.pick(rng.chance(0.5) ? FIRST_NAMES_F : FIRST_NAMES_M);
  const domain = rng.pick(['example.com', 'example.net', 'example.org']);

  const moves: LeadMove[] = [{ from: null, to: 'inquiry', ms: firstMs }];
  const touches: LeadTouch[] = [inquiryTouch(world, rng, src, schoolIdx, firstMs)];
  let stage = 0;
  let t = firstMs;
  let stalled = false;
  while (stage < ENROLLED) {
    const p = Math.min(0.95, ADVANCE[stage]! * (stage === 0 ? src.quality : 1));
    if (!rng.chance(p)) {
      stalled = true;
      break;
    }
    // Some families apply without touring; a few no-shows apply anyway.
    const next =
      stage === 0 && rng.chance(0.1) ? 3 : stage === 1 && rng.chance(0.05) ? 3 : stage + 1;
    const dt = (0.5 + rng.exponential(GAP_DAYS[stage]!)) * DAY_MS;
    if (t + dt > world.cutoffMs) break;
    // Staff follow up between steps (email or call), before the family moves on.
    if (rng.chance(0.45)) {
      const kind = rng.chance(0.6) ? 'email' : 'call';
      touches.push(
        followUp(kind, kind === 'email' ? 'email' : 'phone', t + dt * rng.uniform(0.2, 0.8)),
      );
    }
    t += dt;
    moves.push({ from: FUNNEL[stage]!, to: FUNNEL[next]!, ms: t });
    const [kind, channel, details] = STEP_TOUCH[FUNNEL[next]!]!;
    touches.push(followUp(kind, channel, t, details));
    stage = next;
  }
  if (rng.chance(0.1)) {
    // Re-engagement: the family comes back through another campaign before deciding.
    const again = SOURCES[rng.weighted(SOURCES.map((s) => s.weight))]!;
    const ms = firstMs + rng.uniform(0.3, 1) * (t - firstMs);
    if (ms > firstMs) touches.push(inquiryTouch(world, rng, again, schoolIdx, ms));
  }
  let stageKey: string = FUNNEL[stage]!;
  let lostReason: string | null = null;
  let lostMs: number | null = null;
  if (stalled) {
    const at = t + rng.between(14, 75) * DAY_MS + rng.int(8 * 3600) * 1000;
    if (rng.chance(LOST_SHARE) && at <= world.cutoffMs) {
      lostReason = stage >= 5 ? rng.pick(LOST_REASONS.slice(0, 2)) : rng.pick(LOST_REASONS);
      lostMs = at;
      moves.push({ from: stageKey, to: 'lost', ms: at });
      stageKey = 'lost';
    }
  }
  touches.sort((a, b) => a.ms - b.ms);
  const last = Math.max(moves[moves.length - 1]!.ms, touches[touches.length - 1]!.ms);
  const message = rng.chance(0.4) ? rng.pick(LEAD_MESSAGES) : null;
  const score = Math.min(
    100,
    5 + touches.length * 7 + stage * 11 + (message ? 5 : 0) + (src.source === 'referral' ? 10 : 0),
  );
  return {
    idx,
    schoolIdx,
    grade,
    guardianName: `${gFirst} ${gLast}`,
    studentFirstName,
    email: `${emailPart(gFirst)}.${emailPart(gLast)}.${idx + 1}@${domain}`,
    phone: rng.chance(0.85)
      ? `(${school.city.area}) 555-${String(100 + rng.int(100)).padStart(4, '0')}`
      : null,
    stage: stageKey,
    score: stageKey === 'lost' ? Math.floor(score / 2) : score,
    lostReason,
    lostMs,
    enrolledMs: stage === ENROLLED ? t : null,
    consent: rng.chance(0.92),
    message,
    source: src.source,
    firstMs,
    updatedMs: atMost(world, last),
    moves,
    touches,
  };
}

/**
 * Which enrolled leads became which new students: each enrolled lead takes the next new
 * student at its school who started around (or after) the enrollment, once each.
 */
export function linkConversions(world: World, ctx: LeadContext): Map<number, number> {
  const enrolled: { idx: number; school: number; day: number }[] = [];
  for (let i = 0; i < world.preset.leads; i++) {
    const lead = simulateLead(world, ctx, i);
    if (lead.enrolledMs !== null) {
      enrolled.push({ idx: i, school: lead.schoolIdx, day: Math.floor(lead.enrolledMs / DAY_MS) });
    }
  }
  enrolled.sort((a, b) => a.day - b.day || a.idx - b.idx);
  const candidates = world.schools.map(() => [] as { student: number; day: number }[]);
  for (const s of world.students) {
    for (const e of s.enroll) {
      if (e?.isNew) candidates[e.schoolIdx]!.push({ student: s.idx, day: e.entryDay });
    }
  }
  for (const list of candidates) list.sort((a, b) => a.day - b.day || a.student - b.student);
  const next = candidates.map(() => 0);
  const links = new Map<number, number>();
  const used = new Set<number>();
  for (const lead of enrolled) {
    const list = candidates[lead.school]!;
    let i = next[lead.school]!;
    while (i < list.length && (list[i]!.day < lead.day - 45 || used.has(list[i]!.student))) i++;
    next[lead.school] = i;
    const c = list[i];
    if (c && c.day <= lead.day + 240) {
      links.set(lead.idx, c.student);
      used.add(c.student);
      next[lead.school] = i + 1;
    }
  }
  return links;
}

/** Grade label of a lead's grade of interest. */
export function gradeLabel(grade: number): string {
  return GRADE_LABELS[grade]!;
}
