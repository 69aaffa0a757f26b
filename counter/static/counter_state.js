// The counter page's namespace (`Counter`) and what every part of it shares: what the
// page knows (state), where this browser keeps things (KEYS), the parked tickets it
// remembers, and small helpers (words, clocks, errors and notices). Loaded first;
// counter_view.js, counter_live.js, counter_actions.js and counter.js add their parts.
"use strict";

const Counter = (() => {
  const { t, ApiError } = Novbe;
  const $ = (id) => document.getElementById(id);

  // Kept in localStorage, which every tab of this browser shares (as they share the
  // login cookie): a second tab opens on the same counter and sees the same parked list.
  const KEYS = {
    counter: "novbe.counter.id",
    language: "novbe.counter.language",
    parked: (counterId) => `novbe.counter.parked.${counterId}`,
  };
  // Parked tickets expire when the center closes; older entries are leftovers.
  const PARKED_MAX_AGE_MS = 16 * 3600 * 1000;

  // Who is logged in is StaffSession.user (server/static/staff_session.js).
  const state = {
    centerCode: null,
    pickerStats: null, // GET /centers/{c}/counters: the counters this person may work at
    pickerTimer: null, // the picker looks again now and then while it shows
    counterId: null,
    socket: null,
    online: false,
    refused: null, // the server's reason when it refused this counter
    refusedCode: null, // and its code, when it gave one (counter_not_assigned)
    presence: null, // the latest counter.presence: {counter, staff, version}
    busy: false, // an action is on its way: a second press must not call twice
    services: [], // snapshot.services: [{id, code, prefix, name, active}]
    counter: null, // snapshot.counter, then each counter.updated
    lastTicket: null, // the last current ticket seen, to know the id of a parked one
    stats: null, // snapshot.stats, then each queue.stats
    statsAt: 0, // serverNow() when they came: longest waits run on from then
    timezone: null, // the center's (snapshot.center.timezone): times as its clocks show
    recallsNeeded: 1, // the center's recalls_before_no_show
    clockOffsetMs: 0, // server clock minus this one, so timers agree with the server
  };

  // ---- small helpers ----------------------------------------------------------

  function serverNow() {
    return Date.now() + state.clockOffsetMs;
  }

  // 0:42, 12:05, 1:02:09
  function clock(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }

  // A translated word for a code, or the code itself when we have no word for it
  // (a center may add priority classes of its own).
  // 08:38 on the center's clock, whatever this computer's zone; 24 hours, as the hall's
  // display and the kiosk show it (English would say 08:38 AM).
  function centerTime(iso) {
    return new Intl.DateTimeFormat(Novbe.language, {
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZone: state.timezone || undefined,
    }).format(new Date(iso));
  }

  function word(prefix, code) {
    const key = `${prefix}.${code}`;
    const text = t(key);
    return text === key ? code : text;
  }

  function serviceName(code) {
    const service = state.services.find((s) => s.code === code);
    return service ? Novbe.named(service.name) : code;
  }

  function currentTicket() {
    return state.counter ? state.counter.ticket : null;
  }

  function recallsMissing(ticket) {
    return Math.max(0, state.recallsNeeded - ticket.recall_count);
  }

  // The usernames of the people other than me in a counter's `staff` (who works there,
  // from the picker's list or counter.presence). My other tabs are not someone else.
  function othersAt(staff) {
    const me = StaffSession.user ? StaffSession.user.username : null;
    return (staff || []).map((s) => s.username).filter((name) => name !== me);
  }

  // "aylin", "aylin and bora", "aylin, bora and cavid", in the page's language.
  function nameList(names) {
    return new Intl.ListFormat(Novbe.language, { type: "conjunction" }).format(names);
  }

  // ---- errors and notices ------------------------------------------------------

  // What went wrong, for people: our words for the error code when we have them, and
  // the server's own message, which names the ticket and the state it is in.
  function describe(err) {
    if (!(err instanceof ApiError)) return { title: t("error.no_answer"), detail: "" };
    const error = (err.body && err.body.error) || {};
    const key = `error.${error.code}`;
    const known = error.code && t(key) !== key;
    const title = known ? t(key) : t("error.refused", { status: err.status });
    return { title, detail: error.message || "" };
  }

  function showNotice(kind, title, detail = "") {
    const notice = $("notice");
    notice.className = `notice ${kind}`;
    $("notice-title").textContent = title;
    $("notice-detail").textContent = detail;
    notice.hidden = false;
  }

  function clearNotice() {
    $("notice").hidden = true;
  }

  function showInline(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  // A 401 has signed this browser out already (StaffSession.request): the login form
  // says why, so there is nothing more to show.
  function handleApiError(err, inline = null) {
    if (err instanceof ApiError && err.status === 401) return;
    const { title, detail } = describe(err);
    if (inline) showInline(inline, detail ? `${title}: ${detail}` : title);
    else showNotice("error", title, detail);
  }

  // ---- parked tickets --------------------------------------------------------------
  // The API lists no parked tickets, so this browser keeps the ones parked at this
  // counter while it was open (shared by its tabs through localStorage).

  function parkedEntries() {
    let entries;
    try {
      entries = JSON.parse(localStorage.getItem(KEYS.parked(state.counterId))) || [];
    } catch {
      entries = [];
    }
    return entries.filter((e) => serverNow() - e.parked_at < PARKED_MAX_AGE_MS);
  }

  function saveParked(entries) {
    localStorage.setItem(KEYS.parked(state.counterId), JSON.stringify(entries));
    Counter.renderParked();
  }

  function addParked(entry) {
    const entries = parkedEntries().filter((e) => e.id !== entry.id);
    saveParked([...entries, { ...entry, parked_at: serverNow() }]);
  }

  function removeParked(match) {
    const entries = parkedEntries();
    const kept = entries.filter((e) => !match(e));
    if (kept.length !== entries.length) saveParked(kept);
  }

  return {
    $,
    KEYS,
    state,
    serverNow,
    clock,
    centerTime,
    word,
    serviceName,
    currentTicket,
    recallsMissing,
    othersAt,
    nameList,
    describe,
    showNotice,
    clearNotice,
    showInline,
    handleApiError,
    parkedEntries,
    addParked,
    removeParked,
  };
})();
