/** Model manager: resumable, verified downloads into OPFS (Cache API / memory fallbacks). */
export * from './errors.ts';
export * from './store.ts';
export * from './download.ts';
