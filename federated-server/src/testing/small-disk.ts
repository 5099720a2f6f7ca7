/**
 * A real, small file system for disk-full tests: a tmpfs of the given size mounted on a folder
 * (tests run as root), or, where tmpfs cannot be mounted, an ext4 image on a loop device. Either
 * way writes fail with the kernel's own ENOSPC, not a simulated one. Neither possible: it throws,
 * so the test fails loudly instead of skipping.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';

export interface SmallDisk {
  dir: string;
  kind: 'tmpfs' | 'loop';
  /** Writes a filler file until the disk refuses (ENOSPC); returns the bytes written. */
  fill(): number;
  /** Removes the filler. */
  free(): void;
  unmount(): void;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });

export function mountSmallDisk(dir: string, sizeBytes = 2 * 1024 * 1024): SmallDisk {
  mkdirSync(dir, { recursive: true });
  let kind: SmallDisk['kind'] = 'tmpfs';
  let image: string | undefined;
  try {
    run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir]);
  } catch (tmpfsErr) {
    kind = 'loop';
    image = `${dir}.img`;
    try {
      run('truncate', ['-s', String(Math.max(sizeBytes, 4 * 1024 * 1024)), image]);
      run('mkfs.ext4', ['-q', '-F', image]);
      run('mount', ['-o', 'loop', image, dir]);
    } catch (loopErr) {
      rmSync(image, { force: true });
      throw new Error(
        `cannot mount a small file system for the disk-full test: tmpfs (${(tmpfsErr as Error).message.trim()}) ` +
          `and loop device (${(loopErr as Error).message.trim()}) both failed; run the tests as root`,
      );
    }
  }
  const filler = `${dir}/filler`;
  return {
    dir,
    kind,
    fill() {
      const fd = openSync(filler, 'a');
      let written = 0;
      try {
        // Big blocks first, then smaller ones, down to single bytes: nothing is left.
        for (let block = 64 * 1024; block >= 1; block = Math.floor(block / 4)) {
          const buf = Buffer.alloc(block, 0x5a);
          for (;;) {
            try {
              written += writeSync(fd, buf);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw err;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      run('umount', [dir]);
      if (image) rmSync(image, { force: true });
    },
  };
}
