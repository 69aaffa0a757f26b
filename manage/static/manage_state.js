// The managers' dashboard's namespace (`Manage`) and what every part of it shares:
// what the page knows (state), its settings, and how figures, times and errors are
// written. Loaded first; manage_network.js, manage_center.js, manage_reports.js and
// manage.js add their parts.
"use strict";

const Manage = (() => {
  const { t, ApiError } = Novbe;
  const $ = (id) => document.getElementById(id);

  const KEYS = { language: "novbe.manage.language", center: "novbe.manage.center" };
  const REFRESH_DELAY_MS = 300; // events in a burst collapse into one fetch

  // Who is logged in is StaffSession.user (server/static/staff_session.js).
  const state = {
    centerCode: null, // the center on screen, or null for the network view
    dashboard: null, // the last GET .../dashboard
    timezone: null, // the center's (dashboard.timezone): times are written in it
    printers: new Map(), // device -> printer.status body
    alertLog: [], // `alert` events heard, newest first
    socket: null,
    refreshTimer: null,
    fetching: false,
    fetchAgain: false,
    chartsAt: 0,
    report: null, // the last GET .../report shown
    network: null, // {centers, boards}: the all-centers table as last fetched
    networkLive: new Map(), // center code -> its latest network.center row
    networkFetches: 0, // the latest fetch of the table; an older answer is dropped
    networkFetchedAt: 0, // Date.now() of the latest fetch
    networkTimer: null,
  };

  // ---- formatting ------------------------------------------------------------------

  // A figure stays with its unit ("1 h" and "02 min" may wrap apart, "02" and "min"
  // never), so a narrow tile breaks "1 h 02 min" between its parts, not inside them.
  function keepTogether(text) {
    return text.replace(/([\d<]) /g, "$1\u00a0");
  }

  function minutes(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return keepTogether(t("manage.under_minute"));
    const total = Math.round(seconds / 60);
    if (total < 60) return keepTogether(t("minutes", { n: total }));
    const h = Math.floor(total / 60);
    const m = String(total % 60).padStart(2, "0");
    return keepTogether(t("manage.hours_minutes", { h, m }));
  }

  function percent(share) {
    return share === null || share === undefined ? "–" : `${Math.round(share * 100)}%`;
  }

  // Our word for a code (pause reasons, printer problems), or the code itself.
  function word(prefix, code) {
    const key = `${prefix}.${code}`;
    const text = t(key);
    return text === key ? code : text;
  }

  // A time of day in the center's time zone, wherever the browser is.
  function clockTime(iso) {
    const format = new Intl.DateTimeFormat(Novbe.language, {
      hour: "2-digit",
      minute: "2-digit",
      timeZone: state.timezone || undefined,
    });
    return format.format(new Date(iso));
  }

  function localToday() {
    const now = new Date();
    return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  }

  // ---- errors ----------------------------------------------------------------------

  function showInline(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  function describe(err) {
    if (!(err instanceof ApiError)) return t("manage.no_answer");
    const message = err.body && err.body.error ? err.body.error.message : "";
    return `${t("manage.refused", { status: err.status })} ${message}`.trim();
  }

  // A 401 has signed this browser out already (StaffSession.request): the login form
  // says why.
  function handleFetchError(err, inline) {
    if (!(err instanceof ApiError && err.status === 401)) showInline(inline, describe(err));
  }

  return {
    $,
    KEYS,
    REFRESH_DELAY_MS,
    state,
    minutes,
    percent,
    word,
    clockTime,
    localToday,
    showInline,
    describe,
    handleFetchError,
  };
})();
