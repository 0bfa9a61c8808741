// The script build: <script src="https://HOST/friction-tracker.js" data-api-key="fk_...">.
// It starts once per page (a second copy of the tag does nothing) and is window.friction.
if (!(window.friction && window.friction.version)) tracker(window, document);
