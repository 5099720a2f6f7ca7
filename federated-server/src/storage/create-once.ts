/**
 * A file made once and then only read, even when several processes start at the same moment
 * (replicas sharing a data directory): each writes its candidate to a temp name, fsyncs it, and
 * hard-links it into place; `link` fails if the name exists, so exactly one candidate wins, it is
 * complete when it appears, and every process reads the winner.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, open, readFile, rm } from 'node:fs/promises';

/**
 * The content of `file`, creating it (mode 0600) from `make()` if it does not exist.
 * @returns the file's content, whoever wrote it.
 */
export async function createOnce(file: string, make: () => Promise<string> | string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const temp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    const fh = await open(temp, 'wx', 0o600);
    try {
      await fh.writeFile(await make());
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(temp, 0o600); // whatever the umask
    await link(temp, file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err; // another process made it first: use theirs
    });
  } finally {
    await rm(temp, { force: true });
  }
  return readFile(file, 'utf8');
}
