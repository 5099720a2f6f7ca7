/* global URLSearchParams, location, fetch */
// Demo page only: `?model=…&sha256=…&model-name=…&model-license=…&lang=en&theme=dark&position=floating&autoload=1&kb=…` override the
// element's attributes before the widget starts. Real portals just write the attributes. `kb=` with
// nothing after it turns grounding off (tests of plain generation).
(function () {
  var params = new URLSearchParams(location.search);
  var names = [
    'model',
    'sha256',
    'lang',
    'theme',
    'position',
    'max-tokens',
    'temperature',
    'conversation-id',
    'backend',
    'kb',
    'model-name',
    'model-license',
  ];
  // Runs right after the element is parsed, before the deferred widget module upgrades it.
  var el = document.querySelector('dure-chat');
  if (!el) return;
  names.forEach(function (n) {
    var v = params.get(n);
    if (v !== null) el.setAttribute(n, v);
  });
  if (params.get('autoload') === '1') el.setAttribute('autoload', '');
  if (params.get('lang') === 'en') document.documentElement.lang = 'en';
  // A model the operator registered (`npx dure models add`, or DURE_MODEL=… npm start) replaces
  // Dure's demo model, with its checksum, size, name and licence from its descriptor. An explicit
  // ?model= wins; no registry (the usual checkout) leaves the page as written.
  if (params.get('model') !== null || typeof fetch !== 'function') return;
  var get = function (url) {
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      return r.ok ? r.json() : null;
    });
  };
  get('/models/registry.json')
    .then(function (reg) {
      if (!reg || typeof reg.default !== 'string' || reg.default === 'demo') return null;
      return get('/models/' + encodeURIComponent(reg.default) + '.json');
    })
    .then(function (d) {
      if (!d || typeof d.file !== 'string') return;
      if (d.sha256) el.setAttribute('sha256', d.sha256);
      if (d.bytes) el.setAttribute('size', String(d.bytes));
      if (d.name) el.setAttribute('model-name', d.name);
      var license = d.license && (d.license.name || d.license.id);
      if (license) el.setAttribute('model-license', license);
      el.setAttribute('model', '/models/' + encodeURIComponent(d.file));
    })
    .catch(function () {
      // No registry or an unreadable one: the demo model stays.
    });
})();
