// The tracker every build shares (build.mjs): src/script.js starts it from its script
// tag's data- attributes, src/module.js from init()'s options (the npm package).
// ES2017, no dependencies, no eval. Every listener is passive and guarded: the tracker
// never throws into the host page. See sdk/README.md for options and the event model.
// build.mjs defines FRICTION_VERSION (package.json's) and FRICTION_VITALS.

// Tracks this page with `options` (init()'s, camelCase) or, without them, the script
// tag's data- attributes; returns the public API.
function tracker(w, d, options) {

  var SESSION_KEY = 'friction_session';
  var NAV_KEY = 'friction_pages';
  var SESSION_IDLE_MS = 30 * 60 * 1000;
  // Keepalive requests and beacons share one 64 KB budget per page (all of them in flight
  // together), counted in bytes.
  var BEACON_MAX = 60000;
  var MAX_EVENTS = 500; // ingest's limit per batch
  var MAX_ATTEMPTS = 8; // then a batch is given up, counted as failed
  // Ingest's limits per field, in UTF-8 bytes (1024 for the others: selector, form,
  // message, field_name): longer values are cut before sending rather than refused there.
  var LIMITS = { url: 2048, referrer: 2048, source: 2048, stack: 8192, element_tag: 64, field_type: 64 };
  var nativeFetch = w.fetch && w.fetch.bind(w);
  var passiveCapture = { capture: true, passive: true };
  var script = !options && d.currentScript; // init()'s bundle is no tag of its own

  function attr(name, fallback) {
    var v = options ? options[name.replace(/-./g, function (m) { return m[1].toUpperCase(); })] : script && script.getAttribute('data-' + name);
    return v === null || v === undefined || v === '' ? fallback : v;
  }
  // Every number setting counts something (events, ms, px): at least 1.
  function num(name, fallback) {
    var v = Number(attr(name, fallback));
    return v >= 1 ? v : fallback;
  }
  function flag(name, fallback) {
    var v = attr(name, null);
    return v === null ? fallback : !/^(false|0)$/.test(v);
  }

  var apiKey = attr('api-key', '');
  var origin = script && script.src ? new URL(script.src).origin : location.origin; // src is absolute
  // Settings, from the script tag's data- attributes or init()'s options (sdk/README.md).
  // Absolute, so the tracker's own requests are told apart from the page's.
  var endpoint = new URL(attr('endpoint', origin + '/v1/events'), location.href).href;
  var batchSize = num('batch-size', 20);
  var keepQuery = flag('keep-query', false);
  var rageClicks = num('rage-clicks', 3);
  var rageWindow = num('rage-window', 1000);
  var rageRadius = num('rage-radius', 30);
  var maxQueue = num('max-queue', 1000);

  var queue = [];
  // Events a page could not hand over, per key: two sites on one origin never mix.
  var PENDING_KEY = 'friction_pending:' + apiKey;
  var stats = { dropped: 0, sent: 0, failed: 0 };
  var consent = !flag('require-consent', false);
  // Global Privacy Control is a legal opt-out in places: honoured whatever respect-dnt says.
  // (window.doNotTrack was IE's and EdgeHTML's, older than ES2017's browsers or gone.)
  var dnt = navigator.globalPrivacyControl || flag('respect-dnt', true) && navigator.doNotTrack === '1';
  var pageViewId = uuid();
  var lastPath = location.pathname;
  var firstPath = lastPath;
  var sending = false;
  var leaving = false;
  var inflight = 0; // bytes of the keepalive request in flight
  var attempts = 0;
  var retryAt = 0;
  var backoff = 0;
  var errors = new Map(); // by type, message and place: one event each, counted
  var activity = 0; // DOM mutations, navigations, requests, scrolls, focus changes

  // JSON written here, not by JSON.stringify: a page may override it or give arrays a
  // toJSON (Prototype.js). A lone surrogate (text cut mid-pair) would make ingest refuse
  // the whole batch: it is left as it is, and becomes U+FFFD when the body is encoded as
  // UTF-8 (fetch, Response and Blob all take text so). Fields without a value (undefined
  // or null) are left out. Only own keys count: a page may add to Object.prototype.
  function json(v) {
    return typeof v === 'string'
      ? '"' + v.replace(/[\u0000-\u001f"\\]/g, function (c) {
        return '\\u' + (c.charCodeAt(0) + 65536).toString(16).slice(1);
      }) + '"'
      : Array.isArray(v) ? '[' + v.map(json).join(',') + ']'
        : v && typeof v === 'object'
          ? '{' + Object.keys(v).filter(function (k) { return v[k] != null; })
            .map(function (k) { return json(k) + ':' + json(v[k]); }).join(',') + '}'
          : typeof v === 'number' && !isFinite(v) ? 'null' : String(v);
  }

  // `t`'s size in UTF-8, a lone surrogate counted as the U+FFFD it becomes (a Blob would
  // count the same, at a hundred times the cost).
  var utf8 = new TextEncoder();
  function bytes(t) {
    return utf8.encode(t).length;
  }

  // `t` cut to at most `max` UTF-8 bytes, never inside a character (a UTF-16 unit is at
  // most 3 bytes: most text is not measured).
  function cut(t, max) {
    t = t.slice(0, max);
    for (var b; t.length * 3 > max && (b = bytes(t)) > max;) t = t.slice(0, Math.floor(t.length * max / b));
    return t.replace(/[\ud800-\udbff]$/, '');
  }

  // A version 4 UUID: random hex digits, `4` for the version, 8-b for the variant (every
  // ES2017 browser has getRandomValues; randomUUID is newer, and secure pages' only). One
  // call for the 31 digits: each call costs microseconds.
  function uuid() {
    var random = w.crypto.getRandomValues(new Uint8Array(31)), i = 0;
    return '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, function (x) {
      return (x ^ random[i++] & 15 >> x / 4).toString(16);
    });
  }

  // The API's functions and the handlers take at most two arguments.
  function guard(fn) {
    return function (a, b) {
      try { return fn(a, b); } catch (e) { /* never break the host page */ }
    };
  }

  // A visit: one id kept in sessionStorage, rotated after 30 minutes without activity.
  var session; // [id, time of the last event], stored as "id time"
  function sessionId() {
    var now = Date.now();
    try { session = session || sessionStorage.getItem(SESSION_KEY).split(' '); } catch (e) { /* none yet, or storage off */ }
    // Also new when what is stored does not read (NaN).
    // A new one is stored at once (a popup opened now copies the tab's storage).
    if (!(now - (session || 0)[1] <= SESSION_IDLE_MS)) keepSession(session = [uuid(), now]);
    session[1] = now;
    return session[0];
  }

  // The time of the last event is stored every batch interval and when the page is
  // hidden, not in the click: writing storage costs tens of microseconds.
  function keepSession() {
    if (active()) try { sessionStorage.setItem(SESSION_KEY, session.join(' ')); } catch (e) { /* no event yet, or storage off */ }
  }

  // A page's URL (or referrer) without its query string and fragment (unless
  // data-keep-query), and with each path segment that looks personal (an e-mail, an
  // account or card number, a token: see personal()) replaced by `:id`.
  function pageUrl(u) {
    var m = /^([^/?#]*\/\/[^/?#]*)?([^?#]*)(.*)/.exec(u || '');
    return (m[1] || '') + m[2].split('/').map(function (s) { return personal(s, 1) ? ':id' : s; }).join('/') + (keepQuery ? m[3] : '');
  }

  // Free text (error messages, stacks, sources, track() names), cut to the longest field
  // first with every repetition bounded, so a page's huge error message costs it no time:
  // - the page's own path, now and as loaded (inline scripts' frames carry it), is written
  //   as pageUrl() sends it;
  // - e-mail addresses become [email], runs of 9 or more digits (cards, SSNs, phone
  //   numbers) [number] (a frame's :line:column has fewer);
  // - URLs, relative ones too, lose their query and fragment (a frame keeps :line:column).
  function scrubText(t) {
    t = String(t || '').slice(0, 8192);
    [location.pathname, firstPath].forEach(function (u) { t = t.split(u).join(pageUrl(u)); });
    // A domain ends with a letter: react-dom@18.2.0 in a CDN frame is no address.
    t = t.replace(/[\w.+%-]{1,64}(@|%40)[\w-]{1,63}\.[\w.-]{0,62}[a-z]/gi, '[email]').replace(/\d([ .-]?\d){8,}/g, '[number]');
    return keepQuery ? t : t.replace(/((?:[a-z][\w+.-]{0,31}:\/)?\/[^\s?#'"]{0,2048})[?#][^\s'"]*?(:\d+:\d+)?(?=[\s'"]|\)\s|\)?$)/gi, '$1$2');
  }

  // A token that carries personal data: an e-mail address, a run of 4 or more digits
  // (cards, SSNs, phones, account numbers), a long hexadecimal token, or, unless `names`
  // (form and field names, URL paths, where first_name is the convention), two words
  // joined by a single "_" (how user names end up in ids and classes, as alice_smith).
  function personal(token, names) {
    token = token.slice(0, 2048);
    return /@|%40|\d{4}|\d[\d\s.-]{5,}\d|[0-9a-f]{8}/i.test(token) || !names && /[a-z]_[a-z]/i.test(token);
  }

  function active() {
    return apiKey && consent && !dnt;
  }

  // An event of `type` with what every event carries, and `fields` (its kind is left
  // out: ingest derives it from the type). finish() completes it.
  function event(type, fields) {
    return Object.assign({
      type: type,
      session_id: sessionId(),
      page_view_id: pageViewId,
      timestamp: Date.now(),
      url: location.href,
      viewport_width: w.innerWidth,
      viewport_height: w.innerHeight
    }, fields);
  }

  function emit(type, fields) {
    if (!active()) return;
    queue.push(event(type, fields));
    bound();
    // Sent from a task of its own: the click or error that filled the batch does not wait.
    if (queue.length >= batchSize) setTimeout(guard(flush));
  }

  // An event as it is sent, once: its id given, its URL as pageUrl() sends it, every text
  // cut to ingest's limit. Done when a batch is made rather than in the click (or the
  // error) that made it, so the page waits for none of it.
  function finish(e) {
    if (!e.event_id) {
      e.event_id = uuid();
      e.url = pageUrl(e.url);
      Object.keys(e).forEach(function (k) { if (typeof e[k] === 'string') e[k] = cut(e[k], LIMITS[k] || 1024); });
    }
    return e;
  }

  // The queue never holds more than max-queue events: the oldest go first, counted.
  function bound() {
    stats.dropped += queue.splice(0, queue.length - maxQueue).length; // none if not over
  }

  // --- delivery -----------------------------------------------------------------

  // Errors collected so far (only while tracking is on: withdrawing consent clears them).
  function takeErrors() {
    errors.forEach(function (e) { queue.push(e); });
    errors.clear();
    bound();
  }

  function flush() {
    takeErrors();
    keepSession();
    if (sending || leaving || !queue.length || Date.now() < retryAt || !nativeFetch) return;
    // At most ingest's 500 events, and small enough for keepalive: a batch still in flight
    // when the page goes away is delivered by the browser.
    var p = pack(Math.min(batchSize * 10, MAX_EVENTS), BEACON_MAX);
    var batch = queue.splice(0, p.n);
    sending = true;
    compressing = batch;
    gzip(p.body).then(function (gz) {
      // Taken back meanwhile, to go out with the page (flushOnExit).
      if (compressing !== batch) return sending = false;
      compressing = 0;
      inflight = p.size <= BEACON_MAX ? p.size : 0;
      var headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
      if (gz) headers['content-encoding'] = 'gzip';
      nativeFetch(endpoint, {
        method: 'POST',
        headers: headers,
        body: gz || p.body,
        keepalive: inflight > 0,
        credentials: 'omit'
      }).then(function (r) {
        sending = false;
        inflight = 0;
        if (r.ok) {
          stats.sent += batch.length;
          backoff = 0;
          attempts = 0;
          if (queue.length) flush();
          return;
        }
        if (r.status === 429 || r.status >= 500) {
          retry(batch, retryAfter(r.headers.get('retry-after')));
        } else {
          stats.failed += batch.length; // refused: retrying cannot help
        }
      }, function () {
        sending = false;
        inflight = 0;
        // A keepalive request outlives the page: after pagehide its rejection says nothing
        // about delivery, and sending it again would deliver it twice.
        if (!leaving) retry(batch, 0);
      });
    });
  }

  // The batch being gzipped, not yet handed to fetch.
  var compressing;
  // `body` gzipped where the browser offers CompressionStream (ingest takes either), else
  // nothing: it is sent as it is.
  function gzip(body) {
    return new Promise(function (done) {
      done(new Response(new Response(body).body.pipeThrough(new CompressionStream('gzip'))).blob());
    }).catch(function () {});
  }

  // The first `n` queued events (or all, if fewer) as a batch body of `size` bytes,
  // halved until it fits `max` (one event always goes).
  function pack(n, max) {
    n = Math.min(n, queue.length);
    var body = json({ sent_at: Date.now(), events: queue.slice(0, n).map(finish) });
    var size = bytes(body);
    return n > 1 && size > max ? pack(Math.ceil(n / 2), max) : { body: body, n: n, size: size };
  }

  // Retry-After as seconds or as an HTTP date, in ms from now.
  function retryAfter(h) {
    var wait = Number(h) * 1000 || Date.parse(h) - Date.now();
    return wait > 0 ? Math.min(wait, 36e5) : 0;
  }

  // Back off exponentially with jitter (or as long as Retry-After says), then resend;
  // after MAX_ATTEMPTS the batch is given up and counted as failed.
  function retry(batch, wait) {
    if (!active()) return;
    if (++attempts >= MAX_ATTEMPTS) {
      stats.failed += batch.length;
      attempts = 0;
      backoff = 0;
      return;
    }
    queue = batch.concat(queue);
    bound();
    backoff = Math.min(backoff * 2 || 1000, 60000);
    var delay = wait || backoff * (1 + Math.random()) / 2;
    retryAt = Date.now() + delay;
    setTimeout(guard(flush), delay + 10);
  }

  // Hidden or leaving: hand the browser what fits the page's 64 KB keepalive budget
  // (less what a keepalive request in flight holds), which it delivers after unload. The
  // key goes in the query string because sendBeacon cannot set headers. When the page
  // goes away, what did not fit is kept for the next page of this site.
  function flushOnExit(away) {
    takeErrors();
    keepSession();
    if (compressing) {
      queue = compressing.concat(queue);
      compressing = 0;
    }
    if (away) leaving = true;
    if (!active()) return;
    var url = endpoint + (endpoint.indexOf('?') < 0 ? '?' : '&') + 'api_key=' + apiKey; // keys are URL-safe (fk_ and letters and digits)
    var budget = BEACON_MAX - inflight;
    while (queue.length) {
      var p = pack(MAX_EVENTS, budget);
      var ok = false;
      if (p.size <= budget) {
        // Text goes as text/plain, which needs no CORS preflight.
        try { ok = navigator.sendBeacon(url, p.body); } catch (e) { /* refused: kept below */ }
      }
      if (!ok) break;
      queue.splice(0, p.n);
      budget -= p.size;
    }
    if (away && queue.length) {
      // Added to what other tabs of the site left, not in their place.
      try { localStorage.setItem(PENDING_KEY, json(kept().concat(queue.map(finish)))); } catch (e) { stats.dropped += queue.length; }
      queue = [];
    }
  }

  // Takes the events pages of this site could not hand over.
  function kept() {
    try {
      var k = localStorage.getItem(PENDING_KEY);
      localStorage.removeItem(PENDING_KEY);
      return JSON.parse(k) || []; // null when there is none
    } catch (e) { return []; } // storage may be off, or the page's JSON overridden
  }

  // Queues them, once tracking is allowed (with consent required, when it is given).
  function restore() {
    if (active()) {
      queue = kept().concat(queue);
      bound();
    }
  }

  // --- elements -------------------------------------------------------------------

  function selector(el) {
    var parts = [];
    for (var depth = 0; el && el.nodeType === 1 && depth < 5; depth++) {
      var tag = el.tagName.toLowerCase();
      if (el.id && /^[A-Za-z][\w-]{0,63}$/.test(el.id) && !personal(el.id)) {
        parts.unshift(tag + '#' + el.id);
        break;
      }
      var part = tag;
      var cls = typeof el.className === 'string' ? el.className.trim().split(/\s+/).filter(function (c) { return /^[A-Za-z][\w-]{0,40}$/.test(c) && !personal(c); }) : [];
      if (cls.length) part += '.' + cls.slice(0, 2).join('.');
      var parent = el.parentElement;
      // Position among same-tag siblings, counted by walking the first 500 children (in a
      // list of thousands a click must not cost milliseconds).
      var same = 0, index = 0;
      for (var c = parent && parent.firstElementChild, n = 0; c && n < 500; c = c.nextElementSibling, n++) {
        if (c.tagName === el.tagName) {
          same++;
          if (c === el) index = same;
        }
      }
      if (same > 1 && index) part += ':nth-of-type(' + index + ')';
      parts.unshift(part);
      el = parent;
    }
    return parts.join(' > '); // cut to ingest's limit by finish()
  }

  function optedOut(el, what) {
    return !!(el && el.closest && el.closest('[data-friction-ignore],[data-friction-no-' + what + ']'));
  }

  var INTERACTIVE = 'a[href],button,input,select,textarea,label,summary,[role=button],[role=link],[onclick],[tabindex]';

  // --- detectors ------------------------------------------------------------------

  // DOM changes are watched only while a dead-click check is pending: a document-wide
  // observer would tax every update the page makes.
  var checks = 0;
  var watcher;
  // The document is watched, and the open shadow roots on a click's `path` (which has
  // both): a component answers inside its own.
  function watch(delta, path) {
    checks += delta;
    try {
      if (delta > 0) {
        watcher = watcher || new MutationObserver(guard(noticed));
        path.forEach(function (n) {
          if (n.nodeType > 8) watcher.observe(n, { childList: true, subtree: true, attributes: true, characterData: true });
        });
      } else if (!checks) {
        texts = [];
        watcher.disconnect();
      }
    } catch (e) { /* very old browsers: dead clicks then only see other activity */ }
  }

  // Element and attribute changes answer a click (a dialog opening, a class toggled). A
  // text change of a leaf does unless that leaf changed again since the same click: a
  // ticking clock or a live counter changes again and again and answers nothing, while
  // a counter a button updates changes once per click.
  var texts = []; // leaves whose text changed since the last click, while watched
  function noticed(records) {
    var k = texts.length;
    records.forEach(function (r) {
      var n = r.target;
      if (r.attributeName || n.firstElementChild) bump();
      // Once per batch of records (a text replaced in two steps, as jQuery's .text() does,
      // is one change), and bounded: on a page this busy a click counts as answered.
      else if (texts.indexOf(n, k) < 0 && texts.length < 1e3) texts.push(n);
    });
  }

  function answered() {
    return texts.some(function (n) { return texts.indexOf(n) === texts.lastIndexOf(n); });
  }

  var clicks = [];
  var checking = []; // elements with a dead-click check pending
  var intent = 0; // when the visitor last clicked or pressed Enter
  function onClick(ev) {
    var t = ev.target;
    // Clicks made by scripts are not the visitor's (a visitor's always target an element).
    if (!ev.isTrusted || !t.closest) return;
    var now = intent = Date.now();
    // Inside an open shadow root the event names the host; the path names the element.
    var path = ev.composedPath();
    var target = path[0].closest && path[0].closest(INTERACTIVE) || t.closest(INTERACTIVE);
    // What the page did since the previous click answered that one, or not (a repeat
    // click on an element being checked answers nothing).
    if (answered() && checking.indexOf(target) < 0) bump();
    texts = [];
    var sel = selector(t);
    var tag = t.tagName.toLowerCase();
    // A keyboard activation (Enter, Space) is a click without a pointer: no position for
    // the heatmap, and no rage.
    var pointer = ev.detail > 0;
    var at = pointer && { x: ev.pageX, y: ev.pageY, client_x: ev.clientX, client_y: ev.clientY };
    // The page it was on: an error after a route change still belongs to this click.
    lastClick = !optedOut(t, 'error') && Object.assign({ t: now, url: location.href, selector: sel, element_tag: tag }, at);
    if (pointer && !optedOut(t, 'heatmap')) emit('click', Object.assign({ scroll_x: ev.pageX - ev.clientX, scroll_y: ev.pageY - ev.clientY, selector: sel, element_tag: tag }, at));

    clicks = clicks.filter(function (c) { return now - c.t <= rageWindow; });
    // The second and third click of a double or triple click that selects text are a
    // selection, not rage.
    var selecting = ev.detail > 1 && ev.detail < 4 && (w.getSelection() || {}).isCollapsed === false;
    if (pointer && !selecting) clicks.push({ t: now, x: ev.clientX, y: ev.clientY, el: t });
    var near = clicks.filter(function (c) {
      return c.el === t || Math.abs(c.x - ev.clientX) <= rageRadius && Math.abs(c.y - ev.clientY) <= rageRadius;
    });
    if (pointer && near.length >= rageClicks && !optedOut(t, 'rage')) {
      emit('rage_click', Object.assign({ click_count: near.length, selector: sel, element_tag: tag }, at));
      clicks = [];
    }

    if (!target || optedOut(t, 'dead') || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
    if (target.tagName === 'A' && target.target && target.target !== '_self') return;
    if (target.tagName === 'INPUT' && !/^(submit|button|reset|image)$/i.test(target.type)) return;
    // What the browser answers itself: a native list, a download, a mail or phone app.
    if (target.tagName === 'SELECT' || target.hasAttribute('download') || /^(mailto|tel):/i.test(target.getAttribute('href'))) return;
    // One check per element: a rage click on a dead button is one dead click.
    if (checking.indexOf(target) >= 0) return;
    checking.push(target);
    watch(1, path);
    var before = activity;
    var focused = d.activeElement;
    var href = location.href;
    setTimeout(guard(function () {
      var once = answered();
      watch(-1);
      checking.splice(checking.indexOf(target), 1);
      if (activity === before && !once && d.activeElement === focused && location.href === href && d.visibilityState === 'visible') {
        emit('dead_click', Object.assign({ selector: selector(target), element_tag: target.tagName.toLowerCase() }, at));
      }
    }), num('dead-click-timeout', 3000));
  }

  // A click followed within a second by an error: the click gets its own event (once),
  // with the error's message; the error is reported as usual.
  var lastClick;
  function noteError(type, message, source, line, column, stack) {
    if (!active()) return;
    message = scrubText(message || 'Error');
    if (lastClick && Date.now() - lastClick.t < 1000) {
      emit('error_click', Object.assign(lastClick, { message: message, t: undefined }));
    }
    var key = type + '|' + message + '|' + source + '|' + line + '|' + column;
    var e = errors.get(key);
    if (e) { if (e.count < 1e6) e.count++; return; } // ingest's limit
    if (errors.size >= 50) { stats.dropped++; return; }
    errors.set(key, event(type, {
      message: message, source: scrubText(source), line: line || 0, column: column || 0,
      stack: scrubText(stack), count: 1
    }));
  }

  function onError(ev) {
    // Resource load errors carry no message; a cross-origin script's error carries nothing
    // but "Script error.".
    if (!ev || !ev.message || ev.message === 'Script error.') return;
    noteError('javascript_error', ev.message, ev.filename, ev.lineno, ev.colno, ev.error && ev.error.stack);
  }

  function onRejection(ev) {
    // An Error (or DOMException) reads as "Name: message".
    var r = ev && ev.reason;
    noteError('unhandled_rejection', String(r), '', 0, 0, r && r.stack);
  }

  // Only what the visitor saw: `invalid` also fires for checkValidity() calls a page makes
  // on every keystroke, so it counts only right after a click or Enter.
  var invalidAt = 0;
  function onInvalid(ev) {
    if (Date.now() - intent > 1000) return;
    invalidAt = Date.now();
    field(ev.target);
  }

  // Forms that validate in script (novalidate) never make the browser fire `invalid`: a
  // moment after their submission, the fields the browser finds invalid, or the page
  // marks aria-invalid, are what the visitor is shown (unless the page reported them
  // through the browser meanwhile).
  function onSubmit(ev) {
    var form = ev.target;
    var at = Date.now();
    if (form.noValidate) setTimeout(guard(function () {
      if (invalidAt < at) [].forEach.call(form.elements, function (f) {
        if (f.willValidate && !f.validity.valid || f.getAttribute('aria-invalid') === 'true') field(f);
      });
    }), 100);
  }

  // A form field the visitor was told is invalid.
  function field(f) {
    if (!f || !f.validity || optedOut(f, 'form')) return;
    var failed = [];
    for (var k in f.validity) if (k !== 'valid' && f.validity[k] === true) failed.push(k);
    var form = f.form;
    // Attributes, not properties: a control named "id" would stand for form.id.
    var formId = form && form.getAttribute('id');
    var formName = formId || form && form.getAttribute('name');
    var fieldName = [f.name, f.id].filter(function (n) { return n && !personal(n, 1); })[0];
    emit('form_validation_error', {
      form: form ? (formName && !personal(formName, 1) ? (formId ? '#' : '') + formName : selector(form)) : '',
      field_name: fieldName || selector(f),
      field_type: f.type || f.tagName.toLowerCase(),
      selector: selector(f),
      validity: failed
    });
  }

  function pageview(how) {
    emit('pageview', { referrer: pageUrl(how === 'load' ? d.referrer : ''), navigation_type: how });
    seen(how);
  }

  // Quick backs. Where this tab was, kept across page loads as "page shownAt previous"
  // (a reload keeps it): going back (the back button, a bfcache restore, an SPA pop) to
  // the previous page within 5 s of leaving it reports the page fled.
  var nav;
  function seen(how) {
    if (!active()) return;
    var now = Date.now(), here = pageUrl(location.href), last = nav || [];
    try { last = sessionStorage.getItem(NAV_KEY).split(' '); } catch (e) { /* none yet, or storage off */ }
    if (last[0] === here) return;
    var back = how === 'load' ? (performance.getEntriesByType('navigation')[0] || {}).type === 'back_forward' : how === 'pop' || how === 'back_forward';
    if (back && last[2] === here && now - last[1] < 5000) emit('quick_back', { url: last[0] });
    nav = [here, now, last[0]];
    try { sessionStorage.setItem(NAV_KEY, nav.join(' ')); } catch (e) { /* storage may be off */ }
  }

  function onNavigate(how) {
    activity++;
    if (location.pathname === lastPath && how !== 'pop') return;
    lastPath = location.pathname;
    pageViewId = uuid();
    pageview(how);
  }

  // --- performance ------------------------------------------------------------------

  // A time before the visitor opened a prerendered page counts as 0.
  function metric(name, value) {
    if (isFinite(value)) emit(name, { value: Math.max(value, 0) });
  }

  function observe(type, cb, opts) {
    try {
      var o = new PerformanceObserver(guard(function (list) { list.getEntries().forEach(cb); }));
      o.observe(Object.assign({ type: type, buffered: true }, opts));
      return o;
    } catch (e) { /* an entry type this browser lacks: undefined */ }
  }

  // Timings count from when the visitor opened the page: a prerendered page (speculation
  // rules) was loaded before, unseen.
  // Run once the load event has ended.
  function perf() {
    var nav = performance.getEntriesByType('navigation')[0];
    if (nav) {
      var from = nav.activationStart || 0;
      metric('timeToFirstByte', nav.responseStart - from);
      metric('loadTime', nav.loadEventEnd - from);
    }
  }

  // The paint and interaction metrics (FCP, LCP, CLS, INP) are in the vitals build only
  // (build.mjs defines FRICTION_VITALS): the default build keeps its room for the
  // detectors, and sends the navigation timings above.
  var startVitals = function () {};
  var reportVitals = function () {};
  var restartVitals = function () {};
  if (FRICTION_VITALS) {
    // By the published definitions, as Chrome's tools and the web-vitals library compute
    // them. Only paints before the page was first hidden count, and LCP stops at the
    // first input. CLS is the largest burst of layout shifts (a session window: shifts
    // under 1 s apart, within 5 s). INP is the slowest interaction (its longest event),
    // or nearer the 98th percentile past 50 interactions (the slowest but one per 50).
    // A page restored from the back/forward cache starts over, its FCP and LCP the time
    // to its next frame.
    // Started when the visitor opens the page (start()): a prerendered page counts from
    // then, as its paints do (from).
    startVitals = function () {
      var hiddenAt = d.visibilityState === 'hidden' ? 0 : 1 / 0;
      var from = (performance.getEntriesByType('navigation')[0] || {}).activationStart || 0;
      var lcp, stopped, cls, burst, first, last, inp, count, reported;
      var base = 0; // interactions before a restore from the back/forward cache
      var restart = function () {
        lcp = -1;
        stopped = reported = false;
        cls = burst = first = last = count = 0;
        inp = {};
      };
      var largest = function (e) { if (!stopped && e.startTime < hiddenAt) lcp = Math.max(e.startTime - from, 0); };
      var shift = function (e) {
        if (e.hadRecentInput) return;
        if (burst && e.startTime - last < 1000 && e.startTime - first < 5000) burst += e.value;
        else { burst = e.value; first = e.startTime; }
        last = e.startTime;
        cls = Math.max(cls, burst);
      };
      // The 10 slowest interactions by id are all INP needs; `count` counts them all.
      var interaction = function (e) {
        var id = e.interactionId;
        if (!id) return;
        if (!(id in inp)) count++;
        inp[id] = Math.max(inp[id] || 0, e.duration);
        var ids = Object.keys(inp);
        if (ids.length > 10) delete inp[ids.reduce(function (a, b) { return inp[a] < inp[b] ? a : b; })];
      };
      restart();
      observe('paint', function (e) {
        if (e.name === 'first-contentful-paint' && e.startTime < hiddenAt) metric('firstContentfulPaint', e.startTime - from);
      });
      var observers = [
        [observe('largest-contentful-paint', largest), largest],
        [observe('layout-shift', shift), shift],
        [observe('event', interaction, { durationThreshold: 40 }), interaction],
        [observe('first-input', interaction), interaction]
      ];
      // What the observers hold and have not delivered yet.
      var drain = function (only) {
        observers.forEach(function (o) { if (o[0] && (!only || o[1] === only)) o[0].takeRecords().forEach(o[1]); });
      };
      var stop = function (e) { if (e.isTrusted) { drain(largest); stopped = true; } };
      on(w, 'keydown', stop);
      on(w, 'click', stop);
      on(d, 'visibilitychange', function () { if (d.visibilityState === 'hidden') hiddenAt = Math.min(hiddenAt, performance.now()); });
      reportVitals = function () {
        if (reported) return;
        reported = true;
        drain();
        if (lcp >= 0) metric('largestContentfulPaint', lcp);
        metric('cumulativeLayoutShift', cls);
        var slowest = Object.keys(inp).map(function (id) { return inp[id]; }).sort(function (a, b) { return b - a; });
        var n = performance.interactionCount - base || count;
        if (slowest.length) metric('interactionToNextPaint', slowest[Math.min(slowest.length - 1, Math.floor(n / 50))]);
      };
      restartVitals = function (e) {
        restart();
        base = performance.interactionCount || 0;
        stopped = true;
        requestAnimationFrame(function () {
          requestAnimationFrame(guard(function () {
            lcp = performance.now() - e.timeStamp;
            metric('firstContentfulPaint', lcp);
          }));
        });
      };
    };
  }

  // --- wiring -------------------------------------------------------------------------

  function on(target, type, fn, opts) { target.addEventListener(type, guard(fn), opts || passiveCapture); }
  function bump() { activity++; }

  on(d, 'click', onClick);
  on(w, 'error', onError);
  on(w, 'unhandledrejection', onRejection);
  on(d, 'invalid', onInvalid);
  on(d, 'submit', onSubmit);
  on(d, 'keydown', function (e) { if (e.key === 'Enter') intent = Date.now(); });
  // A new window or a dialog takes the focus away: the click was answered.
  on(w, 'blur', bump);
  on(w, 'hashchange', bump);
  on(w, 'scroll', bump);
  on(d, 'focusin', bump);
  on(d, 'visibilitychange', function () { if (d.visibilityState === 'hidden') { reportVitals(); flushOnExit(false); } });
  on(w, 'pagehide', function () { reportVitals(); flushOnExit(true); });
  // Back from the back/forward cache: this page is alive again and holds its queue, and
  // the visitor sees it anew: a new page view.
  on(w, 'pageshow', function (e) {
    if (e.persisted) {
      leaving = false;
      restore();
      pageViewId = uuid();
      pageview('back_forward');
      restartVitals(e);
    }
  });
  // SPA navigations. Nothing of the page is wrapped: wrapping would put this script's
  // frames between the page and its own errors (a cross-origin script's frames turn them
  // into "Script error." and silence unhandled rejections). Without the Navigation API,
  // a new path is noticed within a second, as a `push`.
  var navigation = w.navigation;
  if (navigation && navigation.addEventListener) {
    var navType = 'push';
    on(navigation, 'navigate', function (e) { navType = e.navigationType === 'traverse' ? 'pop' : e.navigationType; });
    on(navigation, 'navigatesuccess', function () { onNavigate(navType); });
  } else {
    on(w, 'popstate', function () { onNavigate('pop'); });
    setInterval(guard(function () { if (location.pathname !== lastPath) onNavigate('push'); }), 1000);
  }
  // Requests the page makes (not this tracker's) count as activity for dead clicks, seen
  // as resource timings rather than by wrapping fetch and XMLHttpRequest.
  observe('resource', function (e) {
    if (/^(fetch|xmlhttprequest)$/.test(e.initiatorType) && e.name.split('?')[0] !== endpoint) bump();
  });

  var api = {
    version: FRICTION_VERSION,
    flush: guard(flush),
    setConsent: guard(function (yes) {
      consent = !!yes;
      restore();
      // Withdrawn: nothing collected before is sent, a batch being compressed is not, and
      // one in flight is not retried.
      if (!consent) {
        queue = [];
        errors.clear();
        compressing = 0;
        kept();
      }
    }),
    track: guard(function (name, fields) {
      var el = fields && fields.element;
      emit('custom', { message: scrubText(name), selector: el && selector(el) });
    }),
    stats: function () { return Object.assign({ queued: queue.length }, stats); }
  };
  // The API is window.friction (one tracker per page, however loaded). Calls made before
  // it ran, queued by the loader snippet (sdk/README.md) as functions of the API, are
  // replayed before the first page view (a consent given early covers it).
  var early = (w.friction || {}).q || [];
  w.friction = api;
  early.forEach(guard(function (call) { call(api); }));

  setInterval(guard(flush), num('batch-interval', 5000));
  restore();
  // A prerendered page is no page view until the visitor opens it.
  if (d.prerendering) on(d, 'prerenderingchange', start);
  else start();
  return api;

  function start() {
    pageview('load');
    startVitals();
    if (d.readyState === 'complete') setTimeout(guard(perf));
    else on(w, 'load', function () { setTimeout(guard(perf)); });
  }
}
