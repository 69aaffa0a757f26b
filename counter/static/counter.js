// The counter workstation: log in, pick a counter, then call and serve visitors with
// big buttons or the keyboard. This file is the page itself: which view shows (log in,
// pick a counter, the desk), the picker, the language, and the start. Loaded last,
// after server/static/staff_session.js (the login, shared with the managers' screens)
// and the page's parts, which share the namespace `Counter`: counter_state.js (state,
// helpers, parked tickets), counter_view.js (drawing), counter_live.js (the live
// channel), counter_actions.js (actions, dialogs, keys).
"use strict";

(() => {
  const C = Counter;
  const { t } = Novbe;
  const { $, state, KEYS } = C;

  // ---- which view ----------------------------------------------------------------

  function route() {
    C.disconnect();
    if (!StaffSession.user) {
      C.showView("login");
      $("username").focus();
      return;
    }
    const fromUrl = Number.parseInt(new URLSearchParams(location.search).get("counter"), 10);
    const remembered = Number.parseInt(localStorage.getItem(KEYS.counter), 10);
    const counterId = Number.isInteger(fromUrl) ? fromUrl : remembered;
    if (Number.isInteger(counterId) && counterId > 0) C.openDesk(counterId);
    else showPicker();
  }

  // Logged out here or in another tab (`expired`: the server ended the session). The
  // chosen counter is kept: a workstation usually stays at one counter.
  function signedOut(expired) {
    state.centerCode = null;
    route();
    C.showInline($("login-error"), expired ? t("login.expired") : "");
  }

  function inWords(err) {
    const { title, detail } = C.describe(err);
    return detail ? `${title}: ${detail}` : title;
  }

  function loginError(err) {
    return err instanceof Novbe.ApiError && err.status === 401 ? t("login.bad") : inWords(err);
  }

  function setUrlCounter(counterId) {
    const query = counterId ? `?counter=${counterId}` : "";
    history.replaceState(null, "", location.pathname + query);
  }

  // ---- picking a counter ---------------------------------------------------------

  async function showPicker(centerCode = null) {
    C.disconnect();
    C.showView("picker");
    const own = StaffSession.user.center;
    const code = centerCode || own || state.centerCode;
    $("center-form").hidden = Boolean(own);
    C.showInline($("picker-error"), "");
    $("counter-list").replaceChildren();
    state.pickerStats = null;
    if (!code) return;
    try {
      const path = `/api/v1/centers/${encodeURIComponent(code)}/queue`;
      const stats = await StaffSession.request("GET", path);
      state.centerCode = code;
      state.pickerStats = stats;
      C.renderPicker();
    } catch (err) {
      C.handleApiError(err, $("picker-error"));
    }
  }

  function pickCounter(counterId) {
    localStorage.setItem(KEYS.counter, String(counterId));
    setUrlCounter(counterId);
    C.openDesk(counterId);
  }

  function pickAnother() {
    if (localStorage.getItem(KEYS.counter) === String(state.counterId)) {
      localStorage.removeItem(KEYS.counter);
    }
    setUrlCounter(null);
    showPicker();
  }

  // ---- language ----------------------------------------------------------------------

  function applyLanguage(lang) {
    Novbe.setLanguage(lang);
    document.title = `${t("title")} · ${t("app.name")}`;
    $("langs").setAttribute("aria-label", t("lang.choose"));
    for (const button of document.querySelectorAll("#langs button")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === Novbe.language));
    }
    C.renderWho();
    C.renderPicker();
    C.renderDesk();
  }

  // ---- start -------------------------------------------------------------------------

  function bind() {
    $("change-counter").addEventListener("click", pickAnother);
    $("refused-pick").addEventListener("click", pickAnother);
    $("notice-close").addEventListener("click", C.clearNotice);
    $("center-form").addEventListener("submit", (event) => {
      event.preventDefault();
      showPicker($("center-code").value.trim());
    });
    for (const button of document.querySelectorAll("#langs button")) {
      button.addEventListener("click", () => {
        localStorage.setItem(KEYS.language, button.dataset.lang);
        applyLanguage(button.dataset.lang);
      });
    }
    C.bindActions();
    // Another tab parked or resumed a ticket of this counter.
    window.addEventListener("storage", (event) => {
      if (state.counterId !== null && event.key === KEYS.parked(state.counterId)) {
        C.renderParked();
      }
    });
  }

  async function start() {
    bind();
    applyLanguage(localStorage.getItem(KEYS.language) || Novbe.language);
    setInterval(C.tick, 1000);
    try {
      await StaffSession.start({
        signedIn: route,
        signedOut,
        loginError,
        logoutError: inWords, // no answer: still logged in, and the screen says so
      });
    } catch (err) {
      route(); // the login form, saying the server does not answer
      C.handleApiError(err, $("login-error"));
      return;
    }
    route();
  }

  C.pickCounter = pickCounter;
  start();
})();
