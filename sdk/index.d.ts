// Types of friction-tracker's public API: init() of the npm package, and window.friction
// of the script build (sdk/README.md documents both).

/** init()'s options: the script tag's data- attributes, in camelCase. */
export interface FrictionOptions {
  /** The site's key (`fk_...`); without it nothing is collected. */
  apiKey: string;
  /** Ingest's `/v1/events` URL. Defaults to this page's origin + `/v1/events`. */
  endpoint?: string;
  /** Send as soon as this many events wait (default 20). */
  batchSize?: number;
  /** Otherwise send every this many ms (default 5000). */
  batchInterval?: number;
  /** Collect nothing until `setConsent(true)` (default false). */
  requireConsent?: boolean;
  /** Honour Do-Not-Track (default true); Global Privacy Control is always honoured. */
  respectDnt?: boolean;
  /** Keep query strings and fragments in URLs (default false: stripped). */
  keepQuery?: boolean;
  /** Clicks that make a rage click (default 3)... */
  rageClicks?: number;
  /** ...within this many ms (default 1000)... */
  rageWindow?: number;
  /** ...within this many px of each other (default 30). */
  rageRadius?: number;
  /** How long a click may go unanswered before it is a dead click, in ms (default 3000). */
  deadClickTimeout?: number;
  /** Queued events kept; past it the oldest are dropped (default 1000). */
  maxQueue?: number;
}

/** What the tracker did with the events of this page so far. */
export interface FrictionStats {
  /** Waiting to be sent. */
  queued: number;
  /** Accepted by ingest. */
  sent: number;
  /** Refused by ingest, or given up after retries. */
  failed: number;
  /** Dropped for want of room in the queue. */
  dropped: number;
}

export interface Friction {
  /** The SDK's version. */
  readonly version: string;
  /** Records a custom event; `element`, if given, is recorded by its CSS selector. */
  track(name: string, fields?: { element?: Element | null }): void;
  /** Gives (`true`) or withdraws (`false`) consent; withdrawing discards what is queued. */
  setConsent(granted: boolean): void;
  /** Sends what is queued now. */
  flush(): void;
  stats(): FrictionStats;
}

/**
 * Starts tracking this page and returns the API, also window.friction. One tracker runs
 * per page: later calls, and the script build, find this one (the options of the first
 * call hold). It never throws: on a server, where there is no page, or with options it
 * cannot start with (an endpoint that is no URL), the API it returns does nothing.
 */
export function init(options: FrictionOptions): Friction;

declare global {
  interface Window {
    /**
     * The running tracker's API; before the script has run, the loader snippet's stand-in,
     * which has only track(), setConsent() and flush() (they are queued).
     */
    friction?: Pick<Friction, 'track' | 'setConsent' | 'flush'> & Partial<Friction>;
  }
}
