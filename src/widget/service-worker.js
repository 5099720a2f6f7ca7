/* global caches, fetch */
/*
 * Dure's service worker, emitted by the build as `sw.js` beside `dure-chat.js` (vite.widget.config.ts
 * writes in the build's id and file lists). It keeps Dure's own files so the widget opens and answers
 * offline after one visit; the model is not here, it stays in the browser's model storage (OPFS).
 *
 * - Dure's files only: the build's files in the folder this script is served from. Every other
 *   request (the portal's pages and files, other origins, models, POSTs) is left alone: no
 *   `respondWith`, so the browser, or the portal's own handler, deals with it.
 * - Install keeps what every widget runs: `dure-chat.js`, its chunks and its two workers (about 1 MB).
 *   Anything else of Dure's, such as the CPU path's WebAssembly, is kept only once it is used.
 * - Content-hashed files (`assets/…`) are answered from the cache; `dure-chat.js` from the network
 *   while there is one, so a new build is picked up; each build keeps its own cache and drops older ones.
 *
 * Two ways to run it (README, "Offline"): registered from its own folder, where its scope is that
 * folder (the widget's workers live there), and imported with `importScripts` by the service worker
 * of the portal's page (requests a page makes, `dure-chat.js` included, go to that page's worker).
 */
const BUILD = 'dev';
/** Every file of Dure's build, relative to Dure's folder. */
const FILES = [];
/** The subset every widget needs, kept at install. */
const INSTALL = [];
const ENTRY = 'dure-chat.js';
const CACHE = `dure-files-${BUILD}`;

/** This script's own URL, also when a portal's worker imported it (browsers name it in stacks). */
function scriptUrl() {
  const m = /(https?:\/\/[^\s()@]+?):\d+:\d+/.exec(String(new Error().stack));
  return m ? m[1] : self.location.href;
}
const HERE = new URL(scriptUrl());
const FOLDER = new URL('./', HERE).href;
/** Registered itself, not imported: then it also decides its own life cycle. */
const OWN = HERE.origin === self.location.origin && HERE.pathname === self.location.pathname;
const KNOWN = new Set(FILES.map((f) => new URL(f, FOLDER).href));

/** The cache key of a request for one of Dure's files, or null for anything else. */
function dureFile(request) {
  if (request.method !== 'GET') return null;
  const url = new URL(request.url);
  const key = url.origin + url.pathname;
  return KNOWN.has(key) ? key : null;
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // Best effort: a file that cannot be fetched now is kept when first used, and a failure here
      // must never fail the install of a portal's worker that imported this script.
      await Promise.all(
        INSTALL.map(async (f) => {
          const key = new URL(f, FOLDER).href;
          try {
            if (await cache.match(key)) return;
            const res = await fetch(key, { cache: 'no-cache' });
            if (res.status === 200) await cache.put(key, res);
          } catch {
            // offline or gone: cached on first use instead
          }
        }),
      );
      if (OWN) await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys())
        if ((key.startsWith('dure-files-') && key !== CACHE) || key.startsWith('dure-shell-'))
          await caches.delete(key);
      if (OWN) await self.clients.claim();
    })(),
  );
});

async function answer(event, key) {
  const { request } = event;
  const cache = await caches.open(CACHE);
  if (key !== new URL(ENTRY, FOLDER).href) {
    const hit = await cache.match(key);
    // A Range request (the wasm check reads a few bytes) may get the whole file: a 200 is a valid answer.
    if (hit) return hit;
  }
  try {
    const res = await fetch(request);
    if (res.status === 200 && res.type === 'basic' && !request.headers.has('range'))
      event.waitUntil(cache.put(key, res.clone()));
    return res;
  } catch (err) {
    const hit = await cache.match(key);
    if (hit) return hit;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const key = dureFile(event.request);
  if (key) event.respondWith(answer(event, key));
});
