import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import yauzl from 'yauzl';

/**
 * A OneRoster bundle on disk: a zip file or a directory of CSV files. Files are opened one
 * at a time as streams; nothing is read whole. A zip is checked before anything is
 * inflated (each entry's declared size, the total, and the compression ratio, which is how
 * a zip bomb shows) and again while streaming (yauzl refuses an entry that inflates past
 * its declared size, and the running total is capped).
 */
export interface BundleLimits {
  /** Largest uncompressed CSV file (bytes). */
  maxFileBytes: number;
  /** Largest uncompressed bundle (bytes). */
  maxTotalBytes: number;
  /** Largest uncompressed ÷ compressed ratio of an entry above 1 MiB. */
  maxRatio: number;
}

export const DEFAULT_LIMITS: BundleLimits = {
  maxFileBytes: 1024 * 1024 * 1024,
  maxTotalBytes: 2 * 1024 * 1024 * 1024,
  maxRatio: 200,
};

/** A bundle that cannot be read at all (not a zip, a zip bomb, a missing path). */
export class BundleError extends Error {
  constructor(
    message: string,
    readonly file: string | null = null,
  ) {
    super(message);
  }
}

export interface Bundle {
  /** Base names of the CSV files in the bundle (`orgs.csv`, …). */
  files(): string[];
  /** Streams one file's bytes. */
  open(name: string): Promise<Readable>;
  close(): Promise<void>;
}

export async function openBundle(
  path: string,
  limits: BundleLimits = DEFAULT_LIMITS,
): Promise<Bundle> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new BundleError(`no file or directory at ${path}`);
  }
  return info.isDirectory() ? openDirectory(path, limits) : openZip(path, limits);
}

async function openDirectory(dir: string, limits: BundleLimits): Promise<Bundle> {
  const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.csv'));
  let total = 0;
  for (const name of names) {
    const size = (await stat(join(dir, name))).size;
    if (size > limits.maxFileBytes)
      throw new BundleError(`${name} is ${size} bytes, above ${limits.maxFileBytes}`, name);
    total += size;
  }
  if (total > limits.maxTotalBytes)
    throw new BundleError(`the bundle is ${total} bytes, above ${limits.maxTotalBytes}`);
  return {
    files: () => names,
    open: async (name) => createReadStream(join(dir, name)),
    close: async () => {},
  };
}

function openZip(path: string, limits: BundleLimits): Promise<Bundle> {
  return new Promise((resolve, reject) => {
    yauzl.open(
      path,
      { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false },
      (err, zip) => {
        if (err || !zip) return reject(new BundleError(`not a readable zip file: ${err?.message}`));
        const entries = new Map<string, yauzl.Entry>();
        let total = 0;
        const fail = (e: Error) => {
          zip.close();
          reject(e);
        };
        zip.on('error', (e: Error) =>
          fail(new BundleError(`not a readable zip file: ${e.message}`)),
        );
        zip.on('entry', (entry: yauzl.Entry) => {
          const name = basename(entry.fileName);
          const skip =
            entry.fileName.endsWith('/') ||
            entry.fileName.startsWith('__MACOSX/') ||
            name.startsWith('.') ||
            !name.toLowerCase().endsWith('.csv');
          if (!skip) {
            const size = entry.uncompressedSize;
            if (size > limits.maxFileBytes)
              return fail(
                new BundleError(
                  `${name} inflates to ${size} bytes, above ${limits.maxFileBytes}`,
                  name,
                ),
              );
            if (size > 1024 * 1024 && size / Math.max(1, entry.compressedSize) > limits.maxRatio)
              return fail(
                new BundleError(
                  `${name} inflates ${Math.round(size / Math.max(1, entry.compressedSize))} times its compressed size (at most ${limits.maxRatio}): refused as a zip bomb`,
                  name,
                ),
              );
            total += size;
            if (total > limits.maxTotalBytes)
              return fail(
                new BundleError(`the bundle inflates past ${limits.maxTotalBytes} bytes`, name),
              );
            if (entries.has(name))
              return fail(new BundleError(`${name} is in the zip twice`, name));
            entries.set(name, entry);
          }
          zip.readEntry();
        });
        zip.on('end', () => {
          let streamed = 0;
          resolve({
            files: () => [...entries.keys()],
            open: (name) =>
              new Promise((res, rej) => {
                const entry = entries.get(name);
                if (!entry) return rej(new BundleError(`${name} is not in the zip`, name));
                zip.openReadStream(entry, (e, stream) => {
                  if (e || !stream) return rej(new BundleError(`${name}: ${e?.message}`, name));
                  // yauzl stops an entry at its declared size; this caps the bundle's total.
                  const cap = new Transform({
                    transform(chunk: Buffer, _enc, done) {
                      streamed += chunk.length;
                      if (streamed > limits.maxTotalBytes)
                        return done(new BundleError('the bundle inflates past its limit', name));
                      done(null, chunk);
                    },
                  });
                  stream.on('error', (se) => cap.destroy(se));
                  res(stream.pipe(cap));
                });
              }),
            close: async () => zip.close(),
          });
        });
        zip.readEntry();
      },
    );
  });
}
