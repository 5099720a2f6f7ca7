/* global URLSearchParams, location */
// Demo page only: `?model=…&sha256=…&lang=en&theme=dark&position=floating&autoload=1&kb=…` override the
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
})();
