/* global caches, fetch, importScripts, Response */
// The demo portal's own service worker (scope: /demo/), written as README's "Offline" recipe shows
// a portal's: Dure's handler for Dure's files, and this folder's page and the files it needs.
importScripts('/sw.js'); // Dure's files only, nothing of yours

// Your side: this folder's page and the files it needs, kept so the page opens offline.
const MINE = 'portal-offline-v1';
const KEEP = ['./', './portal.css', './demo-config.js', '/manifest.webmanifest', '/icons/icon.svg'];
const kept = (url) => KEEP.some((k) => new URL(k, self.location).href === url.split('?')[0]);
self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(MINE)
      .then((c) => c.addAll(KEEP))
      .then(() => self.skipWaiting()),
  );
});
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.mode !== 'navigate' && !kept(request.url)) return;
  event.respondWith(
    fetch(request)
      .then((res) => {
        const copy = res.clone();
        if (res.ok) event.waitUntil(caches.open(MINE).then((c) => c.put(request, copy)));
        return res;
      })
      .catch(async () => (await caches.match(request, { ignoreSearch: true })) ?? Response.error()),
  );
});
