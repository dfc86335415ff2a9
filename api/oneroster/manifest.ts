import type { Bundle } from './bundle.js';
import type { FileMode, ImportReport } from './import.js';
import { readCsv, type Problems } from './read.js';
import { FILE_KEYS, type FileKey } from './spec.js';

/** manifest.csv: the OneRoster version and which files the bundle holds, bulk or delta. */
export async function readManifest(
  bundle: Bundle,
  problems: Problems,
  report: ImportReport,
): Promise<Record<FileKey, FileMode> | null> {
  const present = new Set(bundle.files());
  if (!present.has('manifest.csv')) {
    problems.error({
      file: 'manifest.csv',
      line: null,
      column: null,
      value: null,
      message: 'the bundle has no manifest.csv',
    });
    return null;
  }
  const props = new Map<string, { value: string; line: number }>();
  const rows = await readCsv(await bundle.open('manifest.csv'), {
    file: 'manifest.csv',
    spec: {
      key: 'orgs',
      columns: {
        propertyName: { kind: 'text', required: true, max: 100 },
        value: { kind: 'text', max: 200 },
      },
      ignored: [],
      requiredHeaders: ['value'],
    },
    problems,
    onBatch: async (batch) => {
      for (const r of batch)
        props.set(String(r.propertyName), { value: String(r.value ?? '').trim(), line: r.line });
    },
    sourcedIds: false,
  });
  if (rows === null) return null;
  const version = props.get('oneroster.version');
  report.oneRosterVersion = version?.value ?? null;
  if (!version || !['1.0', '1.1', '1.2'].includes(version.value))
    problems.error({
      file: 'manifest.csv',
      line: version?.line ?? null,
      column: 'value',
      value: version?.value ?? null,
      message: 'oneroster.version must be 1.1 or 1.2',
    });
  const modes = {} as Record<FileKey, FileMode>;
  for (const key of FILE_KEYS) {
    const entry = props.get(`file.${key}`);
    const mode = (entry?.value ?? 'absent').toLowerCase();
    if (mode !== 'bulk' && mode !== 'delta' && mode !== 'absent') {
      problems.error({
        file: 'manifest.csv',
        line: entry?.line ?? null,
        column: 'value',
        value: entry?.value ?? null,
        message: `file.${key} must be bulk, delta or absent`,
      });
      modes[key] = 'absent';
      continue;
    }
    modes[key] = mode;
    const name = `${key}.csv`;
    if (mode !== 'absent' && !present.has(name))
      problems.error({
        file: 'manifest.csv',
        line: entry?.line ?? null,
        column: 'value',
        value: mode,
        message: `the manifest lists ${name} as ${mode} but the bundle has no such file`,
      });
    if (mode === 'absent' && present.has(name))
      problems.error({
        file: name,
        line: null,
        column: null,
        value: null,
        message: `${name} is in the bundle but the manifest lists it absent`,
      });
  }
  return problems.count ? null : modes;
}
