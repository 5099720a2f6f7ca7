/**
 * Citizens' labels on answers (issue 17 item 5): the record and its schema, the export file the
 * citizen downloads, and the console's curation into training data. Platform-neutral (rank 3).
 */
export * from './record.ts';
export * from './export-file.ts';
export * from './scrub.ts';
export * from './curate.ts';
