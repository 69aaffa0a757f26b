// The managers' live dashboard (/manage). Managers and admins log in with the web
// session (server/static/staff_session.js, shared with the counter page and the admin
// page). A manager goes straight to their center; a network admin (no center of their
// own) starts at all centers and may open any. This file is the page itself: which
// view shows, the language, and the start. Loaded last, after its parts, which share
// the namespace `Manage`: manage_state.js (state, formatting, errors),
// manage_network.js (all centers), manage_center.js (one center: figures, alerts,
// charts), manage_reports.js (reports for a range of days), manage_history.js
// (out-of-order calls and a ticket's history), manage_appointments.js (the hall and
// the day's bookings), manage_forecast.js (the next hour, its warnings with Apply, the
// estimates' accuracy), manage_whatif.js (what if, and the policy check).
"use strict";

(() => {
  const M = Manage;
  const { t } = Novbe;
  const { $, state, KEYS } = M;

  // ---- views -----------------------------------------------------------------------

  function showView(name) {
    for (const view of ["login", "refused", "network", "center"]) {
      $(`${view}-view`).hidden = view !== name;
    }
    const user = StaffSession.user;
    $("who").hidden = !user;
    $("who-name").textContent = user ? user.username : "";
    // Only a network admin has more than one center to go back to.
    $("to-network").hidden = !(isNetworkAdmin() && name === "center");
  }

  function isNetworkAdmin() {
    const user = StaffSession.user;
    return !!user && user.role === "admin" && !user.center;
  }

  function route() {
    disconnect();
    const user = StaffSession.user;
    if (!user) {
      showView("login");
      $("username").focus();
      return;
    }
    if (!["manager", "admin"].includes(user.role)) {
      showView("refused");
      return;
    }
    if (user.center) {
      M.openCenter(user.center);
      return;
    }
    const remembered =
      new URLSearchParams(location.search).get("center") || sessionStorage.getItem(KEYS.center);
    if (remembered) M.openCenter(remembered);
    else M.openNetwork();
  }

  // Leaving a view: its socket is closed on purpose (no "connection lost" banner).
  function disconnect() {
    const socket = state.socket;
    state.socket = null;
    if (socket) socket.disconnect();
    $("connection").hidden = true;
    clearTimeout(state.refreshTimer);
    M.stopForecast(); // the forecast's next fetch (manage_forecast.js)
    M.clearNetworkTimer();
    state.networkFetches += 1; // a table fetch still on its way is for nobody
  }

  // Logged out here or in another tab (`expired`: the server ended the session).
  function signedOut(expired) {
    state.centerCode = null;
    sessionStorage.removeItem(KEYS.center);
    route();
    M.showInline($("login-error"), expired ? t("manage.expired") : "");
  }

  function loginError(err) {
    const bad = err instanceof Novbe.ApiError && err.status === 401;
    return bad ? t("manage.bad_login") : M.describe(err);
  }

  // ---- language ----------------------------------------------------------------------

  function setLanguage(lang) {
    Novbe.setLanguage(lang);
    localStorage.setItem(KEYS.language, lang);
    for (const button of document.querySelectorAll("#langs button")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    document.title = `${t("manage.title")} · Növbə`;
    if (state.dashboard) {
      M.render();
      M.renderCharts(true);
    }
    if (state.centerCode === null) M.renderNetwork(); // names and minutes in the new language
    M.renderReport(); // names and minutes in the new language
    M.renderHistoryPart(); // reasons, actions and times in the new language
    M.renderForecast(); // the next hour, its warnings and the accuracy tile
    M.renderWhatIf(); // the what-if and policy check results, the weekdays' names
    M.updateCsvLink(); // the CSV names services in the page's language
  }

  // ---- start -------------------------------------------------------------------------

  Object.assign(M, { showView, disconnect });
  $("to-network").addEventListener("click", M.openNetwork);
  $("network-refresh").addEventListener("click", M.refreshNetwork);
  $("chart-date").addEventListener("change", () => state.centerCode && M.renderCharts(true));
  M.bindReports();
  M.bindHistory();
  M.bindAppointments();
  M.bindWhatIf();
  for (const button of document.querySelectorAll("#langs button")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  const savedLanguage = localStorage.getItem(KEYS.language);
  setLanguage(savedLanguage && Novbe.page.i18n[savedLanguage] ? savedLanguage : Novbe.language);
  StaffSession.start({ signedIn: route, signedOut, loginError, logoutError: M.describe })
    .then(route)
    .catch(() => {
      showView("login");
      M.showInline($("login-error"), t("manage.no_answer"));
    });
})();
