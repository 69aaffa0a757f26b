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
  // The picker lists the counters this staff member may work at (GET .../counters:
  // the server decides), each with who works at it now; it looks again every few
  // seconds while it shows, and once more before opening a counter someone works at.

  const PICKER_REFRESH_MS = 10 * 1000;

  async function showPicker(centerCode = null) {
    C.disconnect();
    C.showView("picker");
    const own = StaffSession.user.center;
    const code = centerCode || own || state.centerCode;
    $("center-form").hidden = Boolean(own);
    C.showInline($("picker-error"), "");
    $("counter-list").replaceChildren();
    $("picker-empty").hidden = true;
    state.pickerStats = null;
    if (!code) return;
    if (await loadPicker(code)) {
      clearInterval(state.pickerTimer); // one timer, however often the picker was shown
      state.pickerTimer = setInterval(() => loadPicker(code), PICKER_REFRESH_MS);
    }
  }

  // The picker's list now; false if it could not be had (the error is shown).
  async function loadPicker(code) {
    try {
      const path = `/api/v1/centers/${encodeURIComponent(code)}/counters`;
      const body = await StaffSession.request("GET", path);
      if ($("picker-view").hidden) return false; // left meanwhile
      state.centerCode = code;
      C.showInline($("picker-error"), "");
      if (JSON.stringify(body) === JSON.stringify(state.pickerStats)) return true;
      state.pickerStats = body;
      // Redrawn: the counter that had the keyboard's focus keeps it.
      const focused = document.activeElement && document.activeElement.dataset.counter;
      C.renderPicker();
      if (focused) document.querySelector(`.counter-choice[data-counter="${focused}"]`)?.focus();
      return true;
    } catch (err) {
      C.handleApiError(err, $("picker-error"));
      return false;
    }
  }

  // Someone else works at it: say who, and open it only if asked to (a shift hand-over,
  // a colleague helping). Two people at one counter is allowed, never by surprise.
  async function pickCounter(counterId) {
    await loadPicker(state.centerCode); // who is there now, not 10 s ago
    const counter = state.pickerStats?.counters.find((c) => c.id === counterId);
    const others = counter ? C.othersAt(counter.staff) : [];
    if (others.length) confirmTaken(counter, others, () => openCounter(counterId));
    else openCounter(counterId);
  }

  function confirmTaken(counter, others, onConfirm) {
    const dialog = $("taken-dialog");
    $("taken-title").textContent = t("pick.taken_title", { label: counter.label });
    $("taken-text").textContent = t("pick.taken_text", {
      label: counter.label,
      names: C.nameList(others),
    });
    $("taken-open").onclick = () => {
      dialog.close();
      onConfirm();
    };
    dialog.showModal();
    $("taken-open").focus();
  }

  function openCounter(counterId) {
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
    C.renderAppointments();
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
