import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import yauzl from 'yauzl';
import yazl from 'yazl';

/** A fresh temporary directory for one test file's bundles. */
export const tempDir = () => mkdtemp(join(tmpdir(), 'homeroom-oneroster-'));

/** Every entry of a zip as text. */
export function unzip(path: string): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const files: Record<string, string> = {};
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            files[entry.fileName] = Buffer.concat(chunks).toString('utf8');
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(files));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/** Writes a zip of the given files (text or bytes); `compress` false stores them. */
export async function writeZip(
  path: string,
  files: Record<string, string | Buffer>,
  compress = true,
): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const [name, body] of Object.entries(files))
    zip.addBuffer(Buffer.isBuffer(body) ? body : Buffer.from(body), name, { compress });
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(path);
    zip.outputStream.pipe(out).on('finish', resolve).on('error', reject);
  });
  return path;
}

/** The rows of a CSV text, header first, with one column blanked (e.g. dateLastModified). */
export function rowsWithout(csv: string, column: string): string[][] {
  const rows = parse(csv, { bom: true }) as string[][];
  const at = rows[0]?.indexOf(column) ?? -1;
  return rows.map((r) => (at < 0 ? r : r.map((v, i) => (i === at ? '' : v))));
}

/** The files of the fixture directory, as text. */
export async function fixtureFiles(dir: string, names: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of names) out[n] = await readFile(join(dir, n), 'utf8');
  return out;
}
