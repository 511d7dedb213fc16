"""The one script the pages run: it keeps a running job's progress current without a reload by hand.

It is static text (no value of any job is ever written into it), so the page's Content-Security-
Policy allows exactly this script by its SHA-256 hash and nothing else: markup that slipped
through escaping still could not run. It reads the `data-live-*` attributes `report.html` writes,
polls /ui/progress.json (same origin) every 2 s, sets texts with textContent (never as HTML), and
reloads the page once a job's status changes or, on a job's own page, a step ends (new plots). A
reload waits while the user is typing in a form field."""

from __future__ import annotations

import base64
import hashlib

SCRIPT = """(function () {
  var els = Array.prototype.slice.call(document.querySelectorAll('[data-live-job]'));
  if (!els.length) return;
  var query = els.map(function (e) {
    return 'job=' + encodeURIComponent(e.getAttribute('data-live-job'));
  }).join('&');
  function busy() {
    var a = document.activeElement;
    return a && (a.tagName === 'INPUT' || a.tagName === 'SELECT' || a.tagName === 'TEXTAREA');
  }
  function tick() {
    fetch('/ui/progress.json?' + query, {credentials: 'same-origin', cache: 'no-store'})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { setTimeout(tick, 5000); return; }
        var reload = false;
        els.forEach(function (e) {
          var p = data[e.getAttribute('data-live-job')];
          if (!p) return;
          var t = e.querySelector('[data-live-text]');
          if (t) t.textContent = p.Text;
          var b = e.querySelector('.bar > span');
          if (b) b.style.width = Math.max(0, Math.min(100, Number(p.Percent) || 0)) + '%';
          if (p.Status !== e.getAttribute('data-status')) reload = true;
          if (e.hasAttribute('data-reload-on-step') && String(p.Done) !== e.getAttribute('data-done')) reload = true;
        });
        if (reload && !busy()) { location.reload(); return; }
        setTimeout(tick, 2000);
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 2000);
})();"""

SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
