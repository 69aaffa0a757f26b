// The kiosk page's namespace (`Kiosk`) and what every part of it shares: what the
// page knows (state: this kiosk's token, the snapshot and queue figures from the live
// channel, the visitor's choices so far) and reading the catalog from it. Loaded
// first; kiosk_screens.js, kiosk_ticket.js, kiosk_offline.js, kiosk_live.js,
// kiosk_access.js and kiosk.js add their parts.
"use strict";

const Kiosk = (() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const LANGUAGES = ["az", "ru", "en"];

  const state = {
    token: Novbe.deviceToken(`novbe.kiosk.${Novbe.page.device}`),
    snapshot: null, // {center, catalog, settings, ...} from the live channel
    // The live channel: "connecting" (no snapshot yet), "online" (a snapshot since the
    // last drop: tickets can be issued), "offline", "refused" (with the refusal's
    // code, when the server sent one), or "unset" (no token in this browser).
    link: "connecting",
    refusal: null,
    stats: {}, // service code -> its row of queue.stats
    full: {}, // service code -> the day its daily quota was reached (local date)
    screen: "start",
    // Bumped at every return to the start screen: an answer that arrives after its
    // visitor has gone is dropped instead of shown to the next one.
    visit: 0,
    category: null,
    priority: null, // a priority class chosen on the service screen, or null
    pending: null, // {key, body}: the ticket request to send, or to send again
    resume: null, // the screen the offline screen stands in for, to go back to
    busy: false,
  };

  // ---- the catalog -----------------------------------------------------------------

  function today() {
    return new Date().toDateString();
  }

  // A service is offered unless the live figures say it was switched off.
  function offered(service) {
    const row = state.stats[service.code];
    return !row || row.active !== false;
  }

  function categories() {
    if (!state.snapshot) return [];
    return state.snapshot.catalog
      .map((category) => ({ ...category, services: category.services.filter(offered) }))
      .filter((category) => category.services.length > 0);
  }

  function findService(code) {
    for (const category of state.snapshot ? state.snapshot.catalog : []) {
      const service = category.services.find((s) => s.code === code);
      if (service) return service;
    }
    return null;
  }

  function isFull(code) {
    return state.full[code] === today();
  }

  function priorityClasses() {
    return state.snapshot ? state.snapshot.center.priority_classes : [];
  }

  return {
    $,
    params,
    LANGUAGES,
    state,
    today,
    categories,
    findService,
    isFull,
    priorityClasses,
  };
})();
