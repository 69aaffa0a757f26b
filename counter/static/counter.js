// The counter workstation: log in, pick a counter, then call and serve visitors with
// big buttons or the keyboard. Staff log in with the web session (an HttpOnly cookie
// the page's scripts never see, plus a CSRF token for changes). Actions go over the
// JSON API; the live channel (/live with {counter} and the cookie) redraws the screen
// from what the server says, so two tabs on one counter, or a tab that lost its
// connection, always show the server's state.
"use strict";

(() => {
  const { t, el, api, ApiError } = Novbe;
  const $ = (id) => document.getElementById(id);

  // Kept in localStorage, which every tab of this browser shares (as they share the
  // login cookie): a second tab opens on the same counter, and `session` tells the
  // other tabs that this one logged in or out.
  const KEYS = {
    session: "novbe.counter.session",
    counter: "novbe.counter.id",
    language: "novbe.counter.language",
    parked: (counterId) => `novbe.counter.parked.${counterId}`,
  };
  // Parked tickets expire when the center closes; older entries are leftovers.
  const PARKED_MAX_AGE_MS = 16 * 3600 * 1000;

  const state = {
    user: null, // who is logged in: {username, role, center}
    csrf: null, // the session's CSRF token, sent with every change
    centerCode: null,
    pickerStats: null, // GET /centers/{c}/queue, for the counter picker
    counterId: null,
    socket: null,
    online: false,
    refused: null, // the server's reason when it refused this counter
    busy: false, // an action is on its way: a second press must not call twice
    services: [], // snapshot.services: [{id, code, prefix, name, active}]
    counter: null, // snapshot.counter, then each counter.updated
    lastTicket: null, // the last current ticket seen, to know the id of a parked one
    stats: null, // snapshot.stats, then each queue.stats
    recallsNeeded: 1, // the center's recalls_before_no_show
    clockOffsetMs: 0, // server clock minus this one, so timers agree with the server
  };

  // ---- small helpers ----------------------------------------------------------

  function readJson(key) {
    try {
      return JSON.parse(localStorage.getItem(key));
    } catch {
      return null;
    }
  }

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
  function word(prefix, code) {
    const key = `${prefix}.${code}`;
    const text = t(key);
    return text === key ? code : text;
  }

  function serviceByCode(code) {
    return state.services.find((s) => s.code === code);
  }

  function serviceName(code) {
    const service = serviceByCode(code);
    return service ? Novbe.named(service.name) : code;
  }

  function currentTicket() {
    return state.counter ? state.counter.ticket : null;
  }

  function recallsMissing(ticket) {
    return Math.max(0, state.recallsNeeded - ticket.recall_count);
  }

  function showView(name) {
    for (const view of ["login", "picker", "desk"]) {
      $(`${view}-view`).hidden = view !== name;
    }
    $("who").hidden = !state.user;
    $("change-counter").hidden = name !== "desk";
    renderWho();
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

  // A 401 means the session is gone (expired, logged out elsewhere, or the account
  // was deactivated or its password changed).
  function handleApiError(err, inline = null) {
    if (err instanceof ApiError && err.status === 401) {
      sessionEnded();
      return;
    }
    const { title, detail } = describe(err);
    if (inline) showInline(inline, detail ? `${title}: ${detail}` : title);
    else showNotice("error", title, detail);
  }

  // ---- the API, with this browser's login cookie -----------------------------------

  function errorCode(err) {
    return err instanceof ApiError && err.body && err.body.error ? err.body.error.code : null;
  }

  // The cookie goes along by itself; a change also carries the session's CSRF token,
  // which proves the request comes from this page and not from another site.
  async function call(method, path, body = undefined, retry = true) {
    const headers = method === "GET" ? {} : { "X-CSRF-Token": state.csrf || "" };
    try {
      return await api(method, path, { body, headers });
    } catch (err) {
      // Logging in again (in another tab) gave the session a new CSRF token; the
      // refused request changed nothing, so sending it once more is safe.
      if (retry && errorCode(err) === "csrf_failed" && (await loadSession())) {
        return call(method, path, body, false);
      }
      throw err;
    }
  }

  // Who is logged in with this browser: true when someone is.
  async function loadSession() {
    try {
      const body = await api("GET", "/api/v1/auth/session");
      state.user = body.user;
      state.csrf = body.csrf_token;
      return true;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) throw err;
      state.user = null;
      state.csrf = null;
      return false;
    }
  }

  // ---- logging in and out ------------------------------------------------------

  // Tell this browser's other tabs, which share the cookie, to follow.
  function announceSession(what) {
    localStorage.setItem(KEYS.session, `${what}:${Date.now()}`);
  }

  async function onLogin(event) {
    event.preventDefault();
    const error = $("login-error");
    const submit = $("login-submit");
    showInline(error, "");
    submit.disabled = true;
    try {
      const body = await api("POST", "/api/v1/auth/session", {
        body: { username: $("username").value.trim(), password: $("password").value },
      });
      state.user = body.user;
      state.csrf = body.csrf_token;
      $("password").value = "";
      announceSession("in");
      route();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) showInline(error, t("login.bad"));
      else handleApiError(err, error);
    } finally {
      submit.disabled = false;
    }
  }

  // Ends the session on the server, so the cookie stops working in every tab. The
  // chosen counter is kept: a workstation usually stays at one counter.
  async function logout() {
    try {
      await api("DELETE", "/api/v1/auth/session");
    } catch (err) {
      handleApiError(err); // no answer: still logged in, and the screen says so
      return;
    }
    announceSession("out");
    signedOut("");
  }

  // The server no longer knows this session (a 401, or a refused socket).
  function sessionEnded() {
    announceSession("out");
    signedOut(t("login.expired"));
  }

  function signedOut(message) {
    state.user = null;
    state.csrf = null;
    state.centerCode = null;
    route();
    showInline($("login-error"), message);
  }

  // ---- which view ----------------------------------------------------------------

  function route() {
    disconnect();
    if (!state.user) {
      showView("login");
      $("username").focus();
      return;
    }
    const fromUrl = Number.parseInt(new URLSearchParams(location.search).get("counter"), 10);
    const remembered = Number.parseInt(localStorage.getItem(KEYS.counter), 10);
    const counterId = Number.isInteger(fromUrl) ? fromUrl : remembered;
    if (Number.isInteger(counterId) && counterId > 0) openDesk(counterId);
    else showPicker();
  }

  function setUrlCounter(counterId) {
    const query = counterId ? `?counter=${counterId}` : "";
    history.replaceState(null, "", location.pathname + query);
  }

  // ---- picking a counter ---------------------------------------------------------

  async function showPicker(centerCode = null) {
    disconnect();
    showView("picker");
    const own = state.user.center;
    const code = centerCode || own || state.centerCode;
    $("center-form").hidden = Boolean(own);
    showInline($("picker-error"), "");
    $("counter-list").replaceChildren();
    state.pickerStats = null;
    if (!code) return;
    try {
      const stats = await call("GET", `/api/v1/centers/${encodeURIComponent(code)}/queue`);
      state.centerCode = code;
      state.pickerStats = stats;
      renderPicker();
    } catch (err) {
      handleApiError(err, $("picker-error"));
    }
  }

  function renderPicker() {
    const stats = state.pickerStats;
    if (!stats) return;
    const names = new Map(stats.services.map((s) => [s.service, Novbe.named(s.name)]));
    const buttons = stats.counters.map((counter) =>
      el(
        "button",
        {
          type: "button",
          class: "counter-choice",
          dataset: { counter: counter.id },
          onclick: () => pickCounter(counter.id),
        },
        el("strong", {}, t("counter_n", { label: counter.label })),
        el("span", { class: `state-chip ${counter.state}` }, word("cstate", counter.state)),
        el("span", { class: "muted" }, counter.services.map((c) => names.get(c) || c).join(", ")),
        counter.current_ticket
          ? el("span", {}, `${t("ticket")} ${counter.current_ticket.number}`)
          : null,
      ),
    );
    $("counter-list").replaceChildren(...buttons);
  }

  function pickCounter(counterId) {
    localStorage.setItem(KEYS.counter, String(counterId));
    setUrlCounter(counterId);
    openDesk(counterId);
  }

  function pickAnother() {
    if (localStorage.getItem(KEYS.counter) === String(state.counterId)) {
      localStorage.removeItem(KEYS.counter);
    }
    setUrlCounter(null);
    showPicker();
  }

  // ---- the live channel ------------------------------------------------------------

  function openDesk(counterId) {
    disconnect();
    Object.assign(state, { counterId, counter: null, stats: null, refused: null, online: false });
    clearNotice();
    showView("desk");
    renderDesk();
    connect();
  }

  function connect() {
    const banner = Novbe.statusBanner($("connection"));
    const socket = Novbe.live(
      { counter: state.counterId }, // who is asking: the login cookie
      {
        snapshot: onSnapshot,
        "counter.updated": onCounter,
        "queue.stats": onStats,
        "ticket.updated": onTicketUpdated,
      },
      {
        onStatus: (status, reason) => {
          if (state.socket !== socket) return; // an old socket, closed on purpose
          state.online = status === "online";
          banner(status === "refused" ? "online" : status); // a refusal has its own panel
          if (status === "refused") onRefused(reason);
          renderButtons();
          renderParked();
        },
      },
    );
    state.socket = socket;
  }

  function disconnect() {
    const socket = state.socket;
    state.socket = null;
    state.online = false;
    if (socket) socket.disconnect();
    $("connection").hidden = true;
  }

  // The server refused the socket: the session is gone (log in again) or this staff
  // member may not use that counter (say so, and offer the picker).
  async function onRefused(reason) {
    try {
      if (!(await loadSession())) {
        sessionEnded();
        return;
      }
    } catch {
      // No answer: show the refusal as it came.
    }
    state.refused = reason || "";
    if (localStorage.getItem(KEYS.counter) === String(state.counterId)) {
      localStorage.removeItem(KEYS.counter); // do not come back to it on reload
    }
    renderDesk();
  }

  function onSnapshot(snapshot) {
    state.clockOffsetMs = Date.parse(snapshot.at) - Date.now() || 0;
    state.centerCode = snapshot.center.code;
    state.services = snapshot.services;
    state.stats = snapshot.stats;
    setCounter(snapshot.counter);
    localStorage.setItem(KEYS.counter, String(snapshot.counter.id));
    refreshPolicy();
    renderDesk();
  }

  // recalls_before_no_show is not in the snapshot; the catalog endpoint has it.
  async function refreshPolicy() {
    try {
      const catalog = await call("GET", `/api/v1/centers/${state.centerCode}/services`);
      state.recallsNeeded = catalog.center.recalls_before_no_show;
      renderButtons();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) sessionEnded();
    }
  }

  function setCounter(counter) {
    state.counter = counter;
    if (counter.ticket) state.lastTicket = counter.ticket;
  }

  function onCounter(counter) {
    if (counter.id !== state.counterId) return;
    setCounter(counter);
    renderDesk();
  }

  function onStats(stats) {
    state.stats = stats;
    renderQueues();
    renderPriority();
  }

  // ticket.updated for the center: notice parks at this counter (by any tab or
  // device) and drop parked tickets that moved on (resumed, cancelled, expired).
  function onTicketUpdated(update) {
    if (!state.counter) return;
    if (update.action === "park" && update.counter === state.counter.label) {
      const seen = [currentTicket(), state.lastTicket];
      const known = seen.find((tk) => tk && tk.number === update.number);
      if (known) addParked({ id: known.id, number: known.number, service: known.service });
    } else if (update.status !== "parked") {
      removeParked((entry) => entry.number === update.number && entry.service === update.service);
    }
  }

  // ---- parked tickets --------------------------------------------------------------
  // The API lists no parked tickets, so this browser keeps the ones parked at this
  // counter while it was open (shared by its tabs through localStorage).

  function parkedEntries() {
    const entries = readJson(KEYS.parked(state.counterId)) || [];
    const fresh = entries.filter((e) => serverNow() - e.parked_at < PARKED_MAX_AGE_MS);
    return fresh;
  }

  function saveParked(entries) {
    localStorage.setItem(KEYS.parked(state.counterId), JSON.stringify(entries));
    renderParked();
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

  async function resume(entry) {
    await runTask(async () => {
      try {
        await call("POST", `/api/v1/tickets/${entry.id}/resume`, { counter: state.counterId });
      } catch (err) {
        // Not parked any more (or gone): it has no place in this list.
        if (err instanceof ApiError && [404, 409].includes(err.status)) {
          removeParked((e) => e.id === entry.id);
        }
        throw err;
      }
      removeParked((e) => e.id === entry.id);
      showNotice("info", t("notice.resumed", { number: entry.number }));
    });
  }

  // ---- actions ---------------------------------------------------------------------

  // Each action: its keys (KeyboardEvent.code, so they work with any keyboard layout),
  // when it is valid (the server's rules, docs/queue.md), and what it does.
  const ACTIONS = {
    callNext: {
      keys: ["Space", "KeyN"],
      valid: (ticket) => !ticket || ticket.status === "serving", // serving: done, next
      run: callNext,
    },
    recall: {
      keys: ["KeyR"],
      valid: (tk) => tk && tk.status === "called",
      run: () => ticketAction("recall"),
    },
    start: {
      keys: ["KeyS"],
      valid: (tk) => tk && tk.status === "called",
      run: () => ticketAction("start"),
    },
    complete: {
      keys: ["KeyC"],
      valid: (tk) => tk && tk.status === "serving",
      run: () => ticketAction("complete"),
    },
    noShow: {
      keys: ["KeyX"],
      valid: (tk) => tk && tk.status === "called" && recallsMissing(tk) === 0,
      run: () => ticketAction("no-show"),
    },
    park: { keys: ["KeyP"], valid: (tk) => tk && tk.status === "serving", run: park },
    transfer: {
      keys: ["KeyT"],
      valid: (tk) => tk && ["called", "serving"].includes(tk.status),
      run: openTransfer,
    },
    pause: { keys: ["KeyB"], valid: () => true, run: openPause },
    reopen: {
      keys: ["KeyO"],
      valid: (tk, counter) => counter.state !== "open",
      run: () => setState("open"),
    },
  };

  function enabled(name) {
    if (!state.online || state.busy || !state.counter || state.refused !== null) return false;
    return Boolean(ACTIONS[name].valid(currentTicket(), state.counter));
  }

  function runAction(name) {
    if (enabled(name)) runTask(ACTIONS[name].run);
  }

  // One request at a time; the screen itself is redrawn by the live events.
  async function runTask(task) {
    state.busy = true;
    renderButtons();
    renderParked();
    try {
      await task();
    } catch (err) {
      handleApiError(err);
    } finally {
      state.busy = false;
      renderButtons();
      renderParked();
    }
  }

  async function callNext() {
    const ticket = await call("POST", `/api/v1/counters/${state.counterId}/call-next`);
    if (ticket === null) showNotice("info", t("notice.nobody_waiting"));
    else clearNotice();
  }

  async function ticketAction(action, body = undefined, ticket = currentTicket()) {
    const result = await call("POST", `/api/v1/tickets/${ticket.id}/${action}`, body);
    clearNotice();
    return result;
  }

  async function park() {
    const ticket = currentTicket();
    await ticketAction("park", undefined, ticket);
    addParked({ id: ticket.id, number: ticket.number, service: ticket.service });
  }

  async function setState(counterState, reason = undefined) {
    const body = reason ? { state: counterState, reason } : { state: counterState };
    await call("POST", `/api/v1/counters/${state.counterId}/state`, body);
    clearNotice();
  }

  // ---- dialogs: transfer and pause --------------------------------------------------

  // A choice button; the first nine also answer to the digit keys.
  function choice(index, label, onChoose, { disabled = false, detail = "" } = {}) {
    return el(
      "button",
      { type: "button", class: "choice", disabled, onclick: onChoose },
      index < 9 ? el("kbd", {}, String(index + 1)) : null,
      el("span", {}, label),
      detail ? el("small", { class: "muted" }, detail) : null,
    );
  }

  function closeThen(dialog, task) {
    return () => {
      dialog.close();
      runTask(task);
    };
  }

  function openTransfer() {
    const ticket = currentTicket();
    const dialog = $("transfer-dialog");
    $("transfer-title").textContent = t("transfer.title", { number: ticket.number });
    const stats = state.stats || { services: [], counters: [] };
    const waiting = new Map(stats.services.map((s) => [s.service, s.waiting]));
    const services = state.services.filter((s) => s.active && s.code !== ticket.service);
    const counters = stats.counters.filter((c) => c.id !== state.counterId);
    let index = 0;
    $("transfer-services").replaceChildren(
      ...services.map((s) =>
        choice(
          index++,
          Novbe.named(s.name),
          closeThen(dialog, () => ticketAction("transfer", { service: s.code }, ticket)),
          { detail: t("queues.waiting_n", { n: waiting.get(s.code) ?? 0 }) },
        ),
      ),
    );
    $("transfer-counters").replaceChildren(
      ...counters.map((c) =>
        choice(
          index++,
          t("counter_n", { label: c.label }),
          closeThen(dialog, () => ticketAction("transfer", { counter: c.id }, ticket)),
          { detail: word("cstate", c.state) },
        ),
      ),
    );
    dialog.showModal();
  }

  function openPause() {
    const dialog = $("pause-dialog");
    const reasons = Novbe.page.pause_reasons || [];
    $("pause-reasons").replaceChildren(
      ...reasons.map((reason, i) =>
        choice(i, word("pause", reason), closeThen(dialog, () => setState("paused", reason))),
      ),
    );
    // Closing needs a free counter: the server refuses while a visitor is at it.
    const ticket = currentTicket();
    const close = $("close-counter");
    close.disabled = Boolean(ticket) || state.counter.state === "closed";
    close.onclick = closeThen(dialog, () => setState("closed"));
    $("why-close").textContent = ticket ? t("why.close_busy", { number: ticket.number }) : "";
    dialog.showModal();
  }

  function onDialogKey(event) {
    const match = /^Digit([1-9])$/.exec(event.code);
    if (!match) return;
    const options = event.currentTarget.querySelectorAll("button.choice:not(:disabled)");
    const option = options[Number(match[1]) - 1];
    if (option) {
      event.preventDefault();
      option.click();
    }
  }

  // ---- keyboard ----------------------------------------------------------------------

  let spaceTaken = false;

  function onKey(event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) return;
    if ($("desk-view").hidden || document.querySelector("dialog[open]")) return;
    if (event.target.closest && event.target.closest("input, textarea, select")) return;
    const name = Object.keys(ACTIONS).find((n) => ACTIONS[n].keys.includes(event.code));
    if (!name) return;
    // Space would also press the focused button (on key-up) or scroll the page.
    event.preventDefault();
    spaceTaken = event.code === "Space";
    runAction(name);
  }

  function onKeyUp(event) {
    if (event.code === "Space" && spaceTaken) {
      event.preventDefault();
      spaceTaken = false;
    }
  }

  // ---- drawing -------------------------------------------------------------------------

  function renderWho() {
    if (!state.user) return;
    const parts = [state.user.username];
    if (!$("desk-view").hidden && state.counter) {
      parts.push(t("counter_n", { label: state.counter.label }));
    }
    $("who-name").textContent = parts.join(" · ");
  }

  function renderDesk() {
    if ($("desk-view").hidden) return;
    const refused = state.refused !== null;
    $("refused").hidden = !refused;
    $("desk").hidden = refused;
    if (refused) {
      $("refused-text").textContent = t("desk.refused", { reason: state.refused });
      $("priority-notice").hidden = true;
      return;
    }
    renderWho();
    renderHeader();
    renderTicket();
    renderButtons();
    renderQueues();
    renderPriority();
    renderParked();
    tick();
  }

  function renderHeader() {
    const counter = state.counter;
    $("counter-title").textContent = counter
      ? t("counter_n", { label: counter.label })
      : t("desk.connecting");
    const chip = $("counter-state");
    const timer = $("state-timer");
    chip.hidden = timer.hidden = !counter;
    if (!counter) return;
    chip.className = `state-chip ${counter.state}`;
    chip.textContent =
      counter.state === "paused"
        ? t("cstate.paused_for", { reason: word("pause", counter.pause_reason) })
        : word("cstate", counter.state);
    timer.dataset.since = counter.state_since || "";
  }

  function fact(label, value, attrs = {}) {
    return el("div", { class: "fact", ...attrs }, el("dt", {}, label), el("dd", {}, value));
  }

  function renderTicket() {
    const box = $("ticket-box");
    const ticket = currentTicket();
    if (!state.counter) {
      box.replaceChildren(el("p", { class: "muted" }, t("desk.connecting")));
      return;
    }
    if (!ticket) {
      box.replaceChildren(
        el("p", { class: "no-ticket", id: "no-ticket" }, t("ticket.none")),
        el("p", { class: "muted" }, t("ticket.none_hint")),
      );
      return;
    }
    const waitedMs = Date.parse(ticket.called_at) - Date.parse(ticket.created_at);
    const stepSince = ticket.status === "serving" ? ticket.started_at : ticket.called_at;
    // Optional parts sit inside el(), which skips nulls (replaceChildren would print them).
    box.replaceChildren(
      el(
        "div",
        { class: "ticket-head" },
        el("span", { class: "ticket-number", id: "ticket-number" }, ticket.number),
        el(
          "span",
          { class: `status-chip ${ticket.status}`, id: "ticket-status" },
          word("tstatus", ticket.status),
        ),
        ticket.priority
          ? el(
              "span",
              { class: "priority-tag", id: "ticket-priority" },
              `${t("ticket.priority")}: ${word("priority", ticket.priority)}`,
            )
          : null,
      ),
      el(
        "dl",
        { class: "facts" },
        fact(t("service"), serviceName(ticket.service), { id: "ticket-service" }),
        fact(t("ticket.language"), word("lang", ticket.language)),
        fact(t("ticket.waited"), Number.isFinite(waitedMs) ? clock(waitedMs) : "—", {
          id: "ticket-waited",
        }),
        fact(
          t(ticket.status === "serving" ? "step.serving" : "step.called"),
          el("span", { class: "timer", dataset: { since: stepSince || "" } }),
        ),
        ticket.recall_count
          ? fact(t("ticket.recalls"), `${ticket.recall_count} / ${state.recallsNeeded}`, {
              id: "ticket-recalls",
            })
          : null,
      ),
    );
  }

  function renderButtons() {
    for (const button of document.querySelectorAll("#actions button[data-action]")) {
      button.disabled = !enabled(button.dataset.action);
    }
    const ticket = currentTicket();
    // Say why the buttons people look for are off.
    const noShowWhy =
      ticket && ticket.status === "called" && recallsMissing(ticket) > 0
        ? t("why.recall_first", { n: recallsMissing(ticket) })
        : "";
    $("why-no-show").textContent = noShowWhy;
    let callWhy = "";
    if (state.counter && !state.online && state.refused === null) callWhy = t("why.offline");
    else if (ticket && ticket.status === "called") {
      callWhy = t("why.finish_called", { number: ticket.number });
    }
    $("why-call-next").textContent = callWhy;
  }

  // The counter's services in its order of preference, with their queue figures.
  function myServiceStats() {
    if (!state.counter || !state.stats) return [];
    const byCode = new Map(state.stats.services.map((s) => [s.service, s]));
    return state.counter.services
      .map((id) => state.services.find((s) => s.id === id))
      .filter(Boolean)
      .map((service) => byCode.get(service.code))
      .filter(Boolean);
  }

  function longestWait(stats) {
    return t("queues.longest", { time: clock(stats.longest_wait_s * 1000) });
  }

  function renderQueues() {
    const rows = myServiceStats().map((s) =>
      el(
        "li",
        { dataset: { service: s.service }, class: s.priority_waiting ? "has-priority" : "" },
        el(
          "div",
          { class: "queue-name" },
          el("span", {}, `${s.prefix} · ${Novbe.named(s.name)}`),
          s.active ? null : el("small", { class: "muted" }, t("queues.inactive")),
          s.waiting ? el("small", { class: "muted" }, longestWait(s)) : null,
        ),
        el(
          "div",
          { class: "queue-figures" },
          el("span", { class: "count", title: t("waiting") }, String(s.waiting)),
          s.priority_waiting
            ? el("small", { class: "priority" }, t("queues.priority_n", { n: s.priority_waiting }))
            : null,
        ),
      ),
    );
    $("queue-list").replaceChildren(...rows);
  }

  function renderPriority() {
    const notice = $("priority-notice");
    const waiting = myServiceStats().filter((s) => s.priority_waiting > 0);
    notice.hidden = waiting.length === 0 || state.refused !== null;
    notice.textContent = waiting.length
      ? t("alert.priority", {
          services: waiting.map((s) => `${Novbe.named(s.name)} (${s.priority_waiting})`).join(", "),
        })
      : "";
  }

  function renderParked() {
    if (state.counterId === null) return;
    const entries = parkedEntries();
    $("parked-empty").hidden = entries.length > 0;
    $("parked-list").replaceChildren(
      ...entries.map((entry) =>
        el(
          "li",
          { dataset: { number: entry.number } },
          el("span", { class: "parked-number" }, entry.number),
          el("span", { class: "muted" }, serviceName(entry.service)),
          el(
            "button",
            {
              type: "button",
              class: "resume",
              disabled: !state.online || state.busy,
              onclick: () => resume(entry),
            },
            t("act.resume"),
          ),
        ),
      ),
    );
  }

  // Once a second: the running timers.
  function tick() {
    const now = serverNow();
    for (const node of document.querySelectorAll("#desk-view [data-since]")) {
      const since = Date.parse(node.dataset.since);
      node.textContent = Number.isFinite(since) ? clock(now - since) : "";
    }
  }

  // ---- language ----------------------------------------------------------------------------

  function applyLanguage(lang) {
    Novbe.setLanguage(lang);
    document.title = `${t("title")} · ${t("app.name")}`;
    $("langs").setAttribute("aria-label", t("lang.choose"));
    for (const button of document.querySelectorAll("#langs button")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === Novbe.language));
    }
    renderWho();
    renderPicker();
    renderDesk();
  }

  // ---- start -------------------------------------------------------------------------------

  // Another tab logged in or out, or parked a ticket: follow it.
  async function onStorage(event) {
    if (event.key === KEYS.session && event.newValue) {
      if (event.newValue.startsWith("out")) {
        if (state.user) signedOut("");
        return;
      }
      // Logged in there: the same cookie now works here, with a new CSRF token.
      const before = state.user && state.user.username;
      try {
        if ((await loadSession()) && state.user.username !== before) route();
      } catch {
        // No answer: the next request will tell.
      }
    } else if (state.counterId !== null && event.key === KEYS.parked(state.counterId)) {
      renderParked();
    }
  }

  function bind() {
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", () => logout());
    $("change-counter").addEventListener("click", pickAnother);
    $("refused-pick").addEventListener("click", pickAnother);
    $("notice-close").addEventListener("click", clearNotice);
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
    for (const button of document.querySelectorAll("#actions button[data-action]")) {
      button.addEventListener("click", () => runAction(button.dataset.action));
    }
    for (const dialog of document.querySelectorAll("dialog")) {
      dialog.addEventListener("keydown", onDialogKey);
      dialog.querySelector(".dialog-cancel").addEventListener("click", () => dialog.close());
    }
    document.addEventListener("keydown", onKey);
    document.addEventListener("keyup", onKeyUp);
    window.addEventListener("storage", onStorage);
  }

  async function start() {
    bind();
    applyLanguage(localStorage.getItem(KEYS.language) || Novbe.language);
    setInterval(tick, 1000);
    try {
      await loadSession();
    } catch (err) {
      route(); // the login form, saying the server does not answer
      handleApiError(err, $("login-error"));
      return;
    }
    route();
  }

  start();
})();
