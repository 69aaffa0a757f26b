// The admin page (/manage/admin?center=<code>): a center's services, counters, staff,
// devices, hours and priority classes, and the audit log of changes to them. Managers
// log in with the web session (server/static/staff_session.js, shared with the
// dashboard and the counter page). This file is the page itself: which view shows,
// the tabs, the language, and the start. Loaded last, after admin_state.js (state,
// the API, messages) and admin_tabs.js (what each tab shows).
"use strict";

(() => {
  const { t, ApiError } = Novbe;
  const { $, KEYS, state, call, centerPath, describe, say } = Admin;

  // ---- views and session ------------------------------------------------------------

  function showView(name) {
    for (const view of ["login", "refused", "pick", "admin"]) $(`${view}-view`).hidden = view !== name;
  }

  // Whoever is logged in now (at the start, after a log-in here or in another tab).
  async function route() {
    const user = StaffSession.user;
    $("who").hidden = !user;
    state.data = null; // another user's view of the center is not ours to show
    $("panel").replaceChildren();
    say("");
    if (!user) {
      showView("login");
      $("username").focus();
      return;
    }
    $("who-name").textContent = user.username;
    if (!["manager", "admin"].includes(user.role)) return showView("refused");
    state.center = new URLSearchParams(location.search).get("center") || user.center;
    if (!state.center) return showView("pick");
    $("center-code").textContent = state.center;
    showView("admin");
    try {
      await loadData();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) say(describe(err), true);
    }
  }

  function showInline(box, text) {
    box.textContent = text;
    box.hidden = !text;
  }

  // Logged out here or in another tab (`expired`: the server ended the session).
  function signedOut(expired) {
    route();
    showInline($("login-error"), expired ? t("manage.expired") : "");
  }

  function loginError(err) {
    return err instanceof ApiError && err.status === 401 ? t("manage.bad_login") : describe(err);
  }

  async function loadData() {
    state.data = await call("GET", centerPath("/admin"));
    render();
  }

  // ---- drawing -----------------------------------------------------------------------

  function render() {
    for (const button of document.querySelectorAll("#tabs button")) {
      button.setAttribute("aria-pressed", String(button.dataset.tab === state.tab));
    }
    if (!state.data) return;
    $("panel").replaceChildren(Admin.tabs[state.tab]());
  }

  // ---- language and wiring -----------------------------------------------------------

  function setLanguage(lang) {
    Novbe.setLanguage(lang);
    localStorage.setItem(KEYS.language, lang);
    for (const button of document.querySelectorAll("#langs button")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    render();
  }

  for (const button of document.querySelectorAll("#langs button")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => {
      state.tab = button.dataset.tab;
      sessionStorage.setItem(KEYS.tab, state.tab);
      say("");
      render();
    });
  }
  $("pick-form").addEventListener("submit", (event) => {
    event.preventDefault();
    location.search = `?center=${encodeURIComponent($("pick-center").value.trim())}`;
  });
  Admin.loadData = loadData;
  const saved = localStorage.getItem(KEYS.language);
  setLanguage(saved && Novbe.page.i18n[saved] ? saved : Novbe.language);
  StaffSession.start({ signedIn: route, signedOut, loginError, logoutError: describe })
    .then(route)
    .catch(() => {
      showView("login");
      showInline($("login-error"), t("manage.no_answer"));
    });
})();
