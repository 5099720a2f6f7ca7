import { describe, expect, it } from 'vitest';
import { loadDataset } from '../src/fl/dataset.ts';
import { sampleDatasetFiles, SAMPLE_RECORDS } from './sample-datasets.ts';

describe('sample datasets for the console', () => {
  it('are three small files the console reads without a single problem line', async () => {
    const files = sampleDatasetFiles();
    expect(files.map((f) => f.fileName)).toEqual([
      'samples/civil.jsonl',
      'samples/hospital.jsonl',
      'samples/welfare.jsonl',
    ]);
    for (const f of files) {
      expect(new TextEncoder().encode(f.source).length).toBeLessThan(60_000);
      const ds = await loadDataset(new Blob([f.source]));
      expect([ds.records.length, ds.issues.length]).toEqual([SAMPLE_RECORDS, 0]);
    }
  });
});
