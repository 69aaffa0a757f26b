// The waiting-room display's clock: the time and date in the center's time zone, not
// the TV's (a TV stick is often left on UTC). Before the first snapshot, and on a
// display not set up yet, the zone is the one the server put in the page
// (display/views.py: its center's, else the installation's). Kept on the server's
// time: each snapshot and queue figure carries the server's clock. Also the day's
// change (yesterday's calls leave the screen) and the nightly reload.
"use strict";

(() => {
  const D = NovbeDisplay;
  const { $, state, page, setText } = D;
  const RELOAD_AFTER_MS = 12 * 3600 * 1000; // nightly reload only after this much uptime
  const RELOAD_HOUR = 3; // center's local hour for the nightly reload (center closed)

  function zone() {
    return state.center?.timezone || page.timezone || undefined;
  }

  const formats = new Map(); // two formatters per time zone; the zone rarely changes
  const FORMATS = {
    time: { hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
    day: { year: "numeric", month: "2-digit", day: "2-digit", hour: "numeric", hourCycle: "h23" },
  };

  function format(kind) {
    const timeZone = zone();
    const key = `${kind}|${timeZone}`;
    if (!formats.has(key)) {
      if (formats.size > 8) formats.clear();
      try {
        formats.set(key, new Intl.DateTimeFormat("en-GB", { ...FORMATS[kind], timeZone }));
      } catch {
        formats.set(key, new Intl.DateTimeFormat("en-GB", FORMATS[kind])); // unknown zone
      }
    }
    return formats.get(key);
  }

  function now() {
    return new Date(Date.now() + state.clockOffsetMs);
  }

  function syncClock(serverIso) {
    const server = Date.parse(serverIso);
    if (!Number.isNaN(server)) state.clockOffsetMs = server - Date.now();
  }

  let lastDay = null;

  function tick() {
    const at = now();
    setText($("time"), format("time").format(at));
    const parts = Object.fromEntries(
      format("day")
        .formatToParts(at)
        .map((part) => [part.type, part.value]),
    );
    // 31.01.2025: how dates are written in az and ru alike, and it needs no month
    // names (browsers' locale data for az is often missing).
    setText($("date"), `${parts.day}.${parts.month}.${parts.year}`);
    if (!state.center) return;
    const day = `${parts.year}-${parts.month}-${parts.day}`; // the center's date
    if (lastDay !== null && day !== lastDay) D.clearCalls(); // yesterday's mean nothing
    lastDay = day;
    maybeReload(Number(parts.hour));
  }

  // Belt and braces for weeks of uptime: reload once a night while the center is
  // closed, and only if the server answers (a TV must never end up on an error page).
  const startedAt = Date.now();
  let reloading = false;

  function maybeReload(hour) {
    if (reloading || hour !== RELOAD_HOUR || Date.now() - startedAt < RELOAD_AFTER_MS) return;
    reloading = true;
    fetch(location.pathname, { cache: "no-store" })
      .then((response) => (response.ok ? location.reload() : (reloading = false)))
      .catch(() => (reloading = false));
  }

  Object.assign(D, { syncClock, tick });
})();
