// The console's only script. Every page works without it; it adds local times, copying,
// show/hide of keys, the export form's cohort section and live export status.
'use strict';
(function () {
  var main = document.getElementById('main');
  var csrf = main && main.getAttribute('data-csrf');
  var toastEl = document.getElementById('toast');
  var toastTimer;

  function toast(text) {
    if (!toastEl) return;
    if (text) toastEl.textContent = text;
    toastEl.classList.add('show');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toastEl.classList.remove('show'); }, 6000);
  }

  // Times arrive in UTC (RFC 3339); show them in the viewer's time zone.
  function localTimes(root) {
    var format = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    root.querySelectorAll('time[datetime]').forEach(function (t) {
      var at = new Date(t.getAttribute('datetime'));
      if (!isNaN(at)) { t.textContent = format.format(at); t.title = t.getAttribute('datetime'); }
    });
  }

  function copy(text) {
    var done = function () { toast('Copied to the clipboard.'); };
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(done, function () { toast('Copying was refused; select the text and copy it.'); });
    }
    var area = document.createElement('textarea');
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var ok = document.execCommand('copy');
    area.remove();
    ok ? done() : toast('Select the text and copy it.');
    return Promise.resolve();
  }

  function reveal(id) {
    return fetch('/console/keys/' + encodeURIComponent(id) + '/reveal', {
      headers: { 'x-csrf-token': csrf || '' }, credentials: 'same-origin',
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok || !body.key) throw new Error(body.message || 'The key cannot be shown (' + res.status + ').');
        return body.key;
      });
    });
  }

  document.addEventListener('click', function (event) {
    var button = event.target.closest('button');
    if (!button) return;
    var selector = button.getAttribute('data-copy');
    if (selector) {
      var source = document.querySelector(selector);
      if (source) copy(source.value !== undefined ? source.value : source.textContent);
      return;
    }
    var showId = button.getAttribute('data-reveal');
    if (showId) {
      var code = document.getElementById('key-' + showId);
      var label = button.firstChild;
      if (button.hasAttribute('data-shown')) {
        code.textContent = code.getAttribute('data-masked');
        button.removeAttribute('data-shown');
        label.textContent = 'Show';
        toast('Key hidden.');
        return;
      }
      reveal(showId).then(function (key) {
        code.textContent = key;
        button.setAttribute('data-shown', '');
        label.textContent = 'Hide';
        toast('Key shown.');
      }, function (e) { toast(e.message); });
      return;
    }
    var copyId = button.getAttribute('data-copy-key');
    if (copyId) reveal(copyId).then(copy, function (e) { toast(e.message); });
  });

  // Cohorts belong to comparisons only: hidden (and not sent) otherwise.
  var type = document.getElementById('report_type');
  var cohorts = document.getElementById('cohorts');
  if (type && cohorts) {
    var sync = function () { cohorts.disabled = type.value !== 'cohort_comparison'; };
    type.addEventListener('change', sync);
    sync();
  }

  // Export status: fetch the rows again while a job is pending or running.
  var rows = document.querySelector('[data-live]');
  if (rows) {
    var busy = function () { return rows.querySelector('[data-status="pending"], [data-status="running"]'); };
    var poll = function () {
      if (!busy()) { setTimeout(poll, 5000); return; }
      fetch(rows.getAttribute('data-live'), { credentials: 'same-origin' }).then(function (res) {
        // Signed out or expired: stop, and say how to go on.
        if (res.status === 401) { toast('Your session has ended; sign in again to follow your exports.'); return null; }
        if (!res.ok) throw new Error('status ' + res.status);
        return res.text();
      }).then(function (html) {
        if (html === null) return false;
        var before = {};
        rows.querySelectorAll('tr[data-export-id]').forEach(function (r) { before[r.getAttribute('data-export-id')] = r.getAttribute('data-status'); });
        var focused = rows.contains(document.activeElement) && document.activeElement.closest('tr[data-export-id]');
        var focusedId = focused && focused.getAttribute('data-export-id');
        rows.innerHTML = html;
        localTimes(rows);
        rows.querySelectorAll('tr[data-export-id]').forEach(function (r) {
          var id = r.getAttribute('data-export-id');
          var now = r.getAttribute('data-status');
          if (before[id] && before[id] !== now && (now === 'completed' || now === 'failed')) toast('Export ' + now + '.');
          if (id === focusedId) (r.querySelector('a') || rows.closest('table')).focus();
        });
        return true;
      }).catch(function () { return true; }).then(function (go) { if (go) setTimeout(poll, 2000); });
    };
    setTimeout(poll, 2000);
  }

  localTimes(document);
  // A notice rendered with the page is written again once loaded, so screen readers
  // announce it.
  if (toastEl && toastEl.textContent.trim()) {
    var notice = toastEl.textContent.trim();
    toastEl.textContent = '';
    setTimeout(function () { toast(notice); }, 150);
  }
  // After a refused form, start where the problem is.
  var invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) invalid.focus();
})();
