// The npm package: `import { init } from 'friction-tracker'`. init() starts the tracker
// with options instead of a script tag's attributes. One tracker runs per page, however
// it was loaded: a later init() (from this build or the other) or the script build finds
// it as window.friction and returns it. init() never throws: on a server (no page), or
// with options the tracker cannot start with (an endpoint that is no URL), it returns an
// API that does nothing.
export function init(options) {
  try {
    var running = window.friction;
    return running && running.version ? running : tracker(window, document, Object(options));
  } catch (e) {
    var none = function () {};
    return { version: FRICTION_VERSION, flush: none, setConsent: none, track: none, stats: function () { return { queued: 0, dropped: 0, sent: 0, failed: 0 }; } };
  }
}
