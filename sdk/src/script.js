// The script build: <script src="https://HOST/friction-tracker.js" data-api-key="fk_...">.
// It starts once per page (a second copy of the tag, or init() before it, is found as
// window.friction) and never throws: with attributes it cannot start with (an endpoint
// that is no URL) it stays off.
if (!(window.friction && window.friction.version)) {
  try { tracker(window, document); } catch (e) { /* off */ }
}
