import { execFile } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.js';

const run = promisify(execFile);

/** A PostgreSQL server of a test's own, which the test may restart. */
export interface ThrowawayCluster {
  /** Superuser URL of its `postgres` database. */
  url: string;
  restart(mode: 'fast' | 'immediate'): Promise<void>;
  destroy(): Promise<void>;
}

/** The installed server's bin directory (the newest major), or null when none is installed. */
export async function postgresBinDir(): Promise<string | null> {
  const root = '/usr/lib/postgresql';
  const majors = await readdir(root).catch(() => [] as string[]);
  const newest = majors.filter((m) => /^\d+$/.test(m)).sort((a, b) => Number(b) - Number(a))[0];
  return newest ? join(root, newest, 'bin') : null;
}

/**
 * Starts a fresh cluster (`initdb`, `pg_ctl start`) on a free loopback port under a temp
 * directory. The server refuses to run as root, so its commands run as the `postgres` user.
 */
export async function startThrowawayCluster(bin: string): Promise<ThrowawayCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'hr-pg-'));
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  const data = join(dir, 'data');
  const asPostgres = (cmd: string, args: string[]) =>
    run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { cwd: dir });
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const ctl = (...args: string[]) =>
    asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', ...args]);
  await ctl('-o', options, 'start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    // pg_ctl restart starts the server again with the options it was started with.
    restart: async (mode) => void (await ctl('-m', mode, 'restart')),
    async destroy() {
      await ctl('-m', 'immediate', 'stop').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
