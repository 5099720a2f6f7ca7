/**
 * The three synthetic sample datasets (민원, 병원, 복지: scripts/datasets/institutions.ts) as static
 * files of the console's build, `samples/<name>.jsonl`, so staff can download one from the
 * console and try a round (issue #20: they lived under node_modules/.cache, where no one looks).
 * Generated at build time from a fixed seed, never committed; a slice keeps each file small.
 */
import type { Plugin } from 'vite';
import { INSTITUTIONS, institutionDataset, toJsonl } from './datasets/institutions.ts';

/** Records per sample file: enough for a few rounds of local steps, about 45 KB. */
export const SAMPLE_RECORDS = 80;

export function sampleDatasetFiles(): { fileName: string; source: string }[] {
  return INSTITUTIONS.map((name) => ({
    fileName: `samples/${name}.jsonl`,
    source: toJsonl(institutionDataset(name, 1).train.slice(0, SAMPLE_RECORDS)),
  }));
}

/** Emits the sample files into the build and serves them from the dev server. */
export function sampleDatasets(): Plugin {
  let files: { fileName: string; source: string }[] | null = null;
  const all = () => (files ??= sampleDatasetFiles());
  return {
    name: 'dure-sample-datasets',
    generateBundle() {
      for (const f of all()) this.emitFile({ type: 'asset', fileName: f.fileName, source: f.source });
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const f = all().find((x) => req.url === `/${x.fileName}`);
        if (!f) return next();
        res.setHeader('content-type', 'application/jsonl; charset=utf-8');
        res.end(f.source);
      });
    },
  };
}
