// Compiled by package.test.mjs with tsc --strict: how a TypeScript user calls the SDK,
// through the package's own name and exports. Each @ts-expect-error must be an error.
import { init, type Friction, type FrictionStats } from 'friction-tracker';
import { init as initWithVitals } from 'friction-tracker/vitals';

const friction: Friction = init({ apiKey: 'fk_x', endpoint: 'https://ingest.example.com/v1/events', keepQuery: true, batchSize: 20 });
friction.track('signup', { element: document.querySelector('button') });
friction.track('plain');
friction.setConsent(true);
friction.flush();
const stats: FrictionStats = friction.stats();
const queued: number = stats.queued + stats.sent + stats.failed + stats.dropped;
const version: string = initWithVitals({ apiKey: 'fk_x' }).version;
window.friction?.track('from the script build');
// @ts-expect-error the loader's stand-in has no stats() until the script has run
window.friction?.stats();

// @ts-expect-error the key is required
init({});
// @ts-expect-error options are typed
init({ apiKey: 'fk_x', batchSize: '20' });
// @ts-expect-error an event has a name
friction.track(42);
// @ts-expect-error the version is read-only
friction.version = '1';

export { queued, version };
