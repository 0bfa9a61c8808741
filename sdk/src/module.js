// The npm package: `import { init } from 'friction-tracker'`. init() starts the tracker
// once per page (later calls return the same API) with options instead of a script
// tag's attributes. On a server, where there is no page, it returns an API that does
// nothing, so server-rendered code may call it too.
var started;

export function init(options) {
  if (typeof window === 'undefined' || typeof document === 'undefined') {
    var none = function () {};
    return { version: FRICTION_VERSION, flush: none, setConsent: none, track: none, stats: function () { return { queued: 0, dropped: 0, sent: 0, failed: 0 }; } };
  }
  return started = started || tracker(window, document, Object(options));
}
