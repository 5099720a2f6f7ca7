/* global caches, fetch */
/*
 * Dure service worker (issue 6 §8): caches the app shell so the widget works offline after the
 * first visit. Models are not cached here — they live in OPFS via the model manager.
 * - install: caches every file the build listed in /precache-manifest.json, plus the pages.
 * - fetch: same-origin GETs are served network-first and fall back to the cache, so a new build
 *   is picked up online and the last good shell answers offline. Range requests, models and
 *   other origins are never touched.
 */
const CACHE = 'dure-shell-v1';
const PAGES = [
  '/',
  '/demo/',
  '/manifest.webmanifest',
  '/icons/icon-192.png',
  '/icons/icon-512.png',
  '/icons/icon.svg',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      let files = [];
      try {
        const res = await fetch('/precache-manifest.json', { cache: 'no-store' });
        if (res.ok) files = (await res.json()).files;
      } catch {
        // dev server: no manifest; runtime caching still works
      }
      await cache.addAll([...PAGES, ...files.filter((f) => !f.endsWith('.html'))]);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys())
        if (key.startsWith('dure-shell-') && key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

function cacheable(request) {
  if (request.method !== 'GET' || request.headers.has('range')) return false;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return false;
  if (url.pathname.endsWith('.gguf') || url.pathname.startsWith('/__dure-models/')) return false;
  return true;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (!cacheable(request)) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const res = await fetch(request);
        if (res.ok && res.type === 'basic') await cache.put(request, res.clone());
        return res;
      } catch (err) {
        const hit = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
        if (hit) return hit;
        throw err;
      }
    })(),
  );
});
