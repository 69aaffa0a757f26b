// The touch kiosk (/kiosk/<device>): language, category, service, ticket. The tap on
// a service issues the ticket: at most three taps, two when there is one category.
// The catalog and queue figures come over the live channel (snapshot, queue.stats;
// a change of this kiosk's settings, device.updated, fetches a fresh snapshot);
// tickets are issued over the API with an Idempotency-Key, so that a retry after a
// lost answer gives back the same ticket instead of a second one.
"use strict";

const Kiosk = (() => {
  const { t, el } = Novbe;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const LANGUAGES = ["az", "ru", "en"];

  // Back to the start screen after this long without a touch, or this long after a
  // ticket was shown. The device setting idle_seconds overrides the first; ?idle=N
  // overrides both (for tests and for trying a kiosk out).
  const IDLE_S = 60;
  const TICKET_S = 20;

  const state = {
    token: Novbe.deviceToken(`novbe.kiosk.${Novbe.page.device}`),
    snapshot: null, // {center, catalog, settings, ...} from the live channel
    stats: {}, // service code -> its row of queue.stats
    full: {}, // service code -> the day its daily quota was reached (local date)
    screen: "start",
    // Bumped at every return to the start screen: an answer that arrives after its
    // visitor has gone is dropped instead of shown to the next one.
    visit: 0,
    category: null,
    priority: null, // a priority class chosen on the service screen, or null
    pending: null, // {key, body}: the ticket request to send, or to send again
    busy: false,
  };

  // ---- screens -----------------------------------------------------------------

  function show(name) {
    state.screen = name;
    $("app").dataset.screen = name;
    document.querySelectorAll("section[data-screen]").forEach((section) => {
      section.hidden = section.dataset.screen !== name;
    });
    $("restart").hidden = name === "start";
    window.scrollTo(0, 0);
    armIdle();
  }

  // A new visitor: forget everything about the last one, including its request key.
  function reset() {
    state.visit += 1;
    clearTimeout(printTimer);
    Object.assign(state, { category: null, priority: null, pending: null });
    setBusy(false);
    Novbe.setLanguage(startLanguage());
    renderCenterName();
    show("start");
  }

  function startLanguage() {
    const wanted = state.snapshot && state.snapshot.settings.language;
    return LANGUAGES.includes(wanted) ? wanted : Novbe.page.language;
  }

  // Words of the start screen, in all three languages at once: nobody has chosen yet.
  function renderTrilingual(element) {
    const key = element.dataset.key;
    element.replaceChildren(
      ...LANGUAGES.map((lang) => el("span", { lang, class: "tri" }, Novbe.page.i18n[lang][key])),
    );
  }

  function setNotice(key) {
    const notice = $("kiosk-notice");
    notice.hidden = !key;
    if (key) {
      notice.dataset.key = key;
      renderTrilingual(notice);
    }
  }

  function renderCenterName() {
    $("center-name").textContent = state.snapshot ? Novbe.named(state.snapshot.center.name) : "";
  }

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

  // ---- language, category, service -----------------------------------------------------
  // Three taps at most: language, category, service. The service tap issues the ticket
  // at once; its button already shows the queue and the estimated wait, and the
  // optional priority chips sit above the services.

  function chooseLanguage(lang) {
    Novbe.setLanguage(lang);
    renderCenterName();
    const offer = categories();
    if (offer.length === 1) {
      // One category: skip that step, so a ticket is two taps away.
      openServices(offer[0].code);
    } else {
      renderCategories();
      show("category");
    }
  }

  function renderCategories() {
    const buttons = categories().map((category) =>
      el(
        "button",
        {
          type: "button",
          class: "big choice",
          dataset: { category: category.code },
          onclick: () => openServices(category.code),
        },
        el("span", { class: "choice-name" }, Novbe.named(category.name)),
      ),
    );
    $("categories").replaceChildren(...buttons);
  }

  function openServices(categoryCode) {
    state.category = categoryCode;
    hideProblem();
    renderPriorities();
    renderServices();
    show("service");
  }

  function currentServices() {
    const category = categories().find((c) => c.code === state.category);
    return category ? category.services : [];
  }

  // Buttons are rebuilt only when the list itself changes; queue figures, which can
  // arrive twice a second, only rewrite their text, so a finger on a button never
  // loses its tap to a redraw.
  function renderServices() {
    const list = $("services");
    const services = currentServices();
    const signature = services.map((s) => s.code).join(" ") + "|" + Novbe.language;
    if (list.dataset.signature !== signature) {
      list.dataset.signature = signature;
      list.replaceChildren(
        ...services.map((service) =>
          el(
            "button",
            {
              type: "button",
              class: "big choice",
              dataset: { service: service.code },
              onclick: () => chooseService(service.code),
            },
            el("span", { class: "choice-name" }, Novbe.named(service.name)),
            el("span", { class: "choice-meta" }),
          ),
        ),
      );
    }
    const sending = state.busy && state.pending ? state.pending.body.service : null;
    list.querySelectorAll("button[data-service]").forEach((button) => {
      button.querySelector(".choice-meta").textContent = serviceMeta(button.dataset.service);
      button.disabled = state.busy;
      button.classList.toggle("sending", button.dataset.service === sending);
    });
    // With the category step skipped, "back" goes to the languages.
    $("service-back").dataset.back = categories().length === 1 ? "start" : "category";
  }

  // The waiting count and estimated wait of a service: what the visitor weighs before
  // tapping it, since that tap is the last one.
  function serviceMeta(code) {
    if (isFull(code)) return t("kiosk.quota_short");
    const row = state.stats[code];
    if (!row) return "";
    return `${t("kiosk.in_line", { n: row.waiting })} · ${t("kiosk.wait", {
      wait: Novbe.waitText(row.estimated_wait_s),
    })}`;
  }

  // ---- priority ----------------------------------------------------------------------
  // Toggle chips, one of the center's priority classes or none (the default). The
  // chosen one goes with the service tapped next. Like the services, the chips are
  // rebuilt only when the classes or the language change.

  function priorityClasses() {
    return state.snapshot ? state.snapshot.center.priority_classes : [];
  }

  function renderPriorities() {
    const classes = priorityClasses();
    if (state.priority && !classes.includes(state.priority)) state.priority = null;
    $("priority").hidden = classes.length === 0;
    const chips = $("priority-choices");
    const signature = classes.join(" ") + "|" + Novbe.language;
    if (chips.dataset.signature !== signature) {
      chips.dataset.signature = signature;
      chips.replaceChildren(
        ...classes.map((name) =>
          el(
            "button",
            {
              type: "button",
              class: "priority-choice",
              dataset: { priority: name },
              onclick: () => togglePriority(name),
            },
            // Keys priority.<class> live in server/i18n/common.json.
            t(`priority.${name}`),
          ),
        ),
      );
    }
    chips.querySelectorAll("button[data-priority]").forEach((chip) => {
      chip.setAttribute("aria-pressed", String(chip.dataset.priority === state.priority));
      chip.disabled = state.busy;
    });
  }

  function togglePriority(name) {
    state.priority = state.priority === name ? null : name;
    renderPriorities();
  }

  // ---- problems -------------------------------------------------------------------------
  // Shown above the services, so the visitor can tap another one straight away.

  function showProblem(text) {
    $("service-problem").textContent = text;
    $("service-problem").hidden = false;
  }

  function hideProblem() {
    $("service-problem").hidden = true;
  }

  // ---- issuing ----------------------------------------------------------------------

  function chooseService(code) {
    if (state.busy) return;
    hideProblem();
    const body = { service: code, language: Novbe.language };
    if (state.priority) body.priority = state.priority;
    // The same request keeps its key (a retry must not make a second ticket); a
    // different one needs a new key, since the server refuses a key reused for it.
    if (!state.pending || JSON.stringify(state.pending.body) !== JSON.stringify(body)) {
      state.pending = { key: Novbe.newKey(), body };
    }
    send();
  }

  async function send() {
    if (state.busy || !state.pending) return;
    const visit = state.visit;
    setBusy(true);
    let ticket;
    try {
      ticket = await Novbe.api("POST", `/api/v1/centers/${state.snapshot.center.code}/tickets`, {
        token: state.token,
        body: state.pending.body,
        idempotencyKey: state.pending.key,
      });
    } catch (err) {
      if (visit !== state.visit) return;
      setBusy(false);
      issueFailed(err);
      return;
    }
    if (visit !== state.visit) return;
    setBusy(false);
    state.pending = null;
    showTicket(ticket);
  }

  // While a request is out, every button that could send one is disabled (a second
  // tap on a service must not ask for a second ticket) and says so.
  function setBusy(busy) {
    state.busy = busy;
    $("retry").disabled = busy;
    $("retry").textContent = busy ? t("kiosk.issuing") : t("kiosk.retry");
    $("service-status").hidden = !busy;
    $("service-status").textContent = busy ? t("kiosk.issuing") : "";
    renderPriorities();
    renderServices();
  }

  function errorCode(err) {
    const body = err instanceof Novbe.ApiError ? err.body : null;
    return body && body.error ? body.error.code : null;
  }

  function issueFailed(err) {
    // No answer, or the server failed: the ticket may or may not exist. Retrying with
    // the same key settles it either way.
    if (!(err instanceof Novbe.ApiError) || err.status >= 500) {
      show("unreachable");
      return;
    }
    const code = errorCode(err);
    const service = state.pending.body.service;
    state.pending = null; // the server answered: this request is settled
    if (code === "quota_reached") {
      state.full[service] = today();
      showProblem(t("kiosk.quota_reached"));
    } else if (code === "service_inactive") {
      state.stats[service] = { ...(state.stats[service] || {}), active: false };
      showProblem(t("kiosk.service_inactive"));
    } else if (err.status === 401 || err.status === 403) {
      showProblem(t("kiosk.refused"));
    } else {
      showProblem(t("kiosk.error"));
    }
    // Back to the services (also after a retry from the unreachable screen), with the
    // full or switched-off one marked or gone.
    renderServices();
    show("service");
  }

  function showTicket(ticket) {
    const service = findService(ticket.service);
    $("ticket-number").textContent = ticket.number;
    $("ticket-service").textContent = service ? Novbe.named(service.name) : ticket.service;
    $("ticket-position").textContent = ticket.position ?? "–";
    $("ticket-wait").textContent = Novbe.waitText(ticket.estimated_wait_s);
    const qr = $("ticket-qr");
    qr.alt = t("kiosk.qr_alt");
    qr.src = `/api/v1/tickets/${encodeURIComponent(ticket.tracking_token)}/qr.svg`;
    $("app").dataset.ticket = ticket.number;
    show("ticket");
    startPrintState(ticket);
  }

  // ---- printing -------------------------------------------------------------------------
  // Whether the visitor gets paper (server/printing.py; docs/realtime.md). The answer to
  // issuing says how it starts (ticket.print); the live channel says how it goes on
  // (ticket.print_state, to this kiosk only). "failed" and "e_ticket" make the screen the
  // ticket: it says why, keeps the QR code big, and stays up longer for a photo.
  const PRINT_WAIT_S = 15; // "printing" for longer than this: show the e-ticket anyway
  const SERVER_STATES = {
    pending: "printing",
    printed: "printed",
    failed: "failed",
    e_ticket: "e_ticket",
  };
  const PRINT_WORDS = {
    none: () => t("kiosk.print.none"),
    printing: () => t("kiosk.print.printing"),
    printed: () => t("kiosk.print.printed"),
    failed: () => t("kiosk.print.failed"),
    e_ticket: () => t("kiosk.print.e_ticket"),
  };
  // Why there is no paper, in the visitor's words; the server's reason codes that mean
  // the same thing share one sentence.
  const REASON_WORDS = {
    no_printer: () => t("kiosk.print.reason.no_printer"),
    printer_misconfigured: () => t("kiosk.print.reason.no_printer"),
    paper_out: () => t("kiosk.print.reason.paper_out"),
    cover_open: () => t("kiosk.print.reason.cover_open"),
    offline: () => t("kiosk.print.reason.offline"),
    agent_offline: () => t("kiosk.print.reason.offline"),
    timeout: () => t("kiosk.print.reason.offline"),
    disconnected: () => t("kiosk.print.reason.offline"),
    no_answer: () => t("kiosk.print.reason.offline"),
  };
  const PAPERLESS = ["failed", "e_ticket"];
  // Print states heard for recent numbers: an answer can beat the ticket to the screen.
  const heard = new Map(); // number -> {state, reason, at}
  let printTimer = null;

  function setPrintState(printState, reason = null) {
    const known = PRINT_WORDS[printState] ? printState : "none";
    const element = $("print-state");
    element.dataset.state = known;
    element.dataset.reason = reason || "";
    let why = null;
    if (PAPERLESS.includes(known) && reason) {
      why = REASON_WORDS[reason] || (() => t("kiosk.print.reason.error"));
    }
    element.replaceChildren(
      el("span", { class: "print-what" }, PRINT_WORDS[known]()),
      ...(why ? [" ", el("span", { class: "print-why" }, why())] : []),
    );
    $("app").dataset.print = known;
    clearTimeout(printTimer);
    if (known === "printing") {
      printTimer = setTimeout(() => setPrintState("e_ticket", "no_answer"), PRINT_WAIT_S * 1000);
    }
    if (state.screen === "ticket") armIdle(); // a paperless ticket stays up longer
  }

  // {number, state, reason} from the server, for the ticket on screen or one on its way.
  function applyPrint(print) {
    if (!print || !print.state) return false;
    const shown = state.screen === "ticket" && $("app").dataset.ticket === print.number;
    if (shown) setPrintState(SERVER_STATES[print.state] || "none", print.reason);
    return shown;
  }

  function onPrintState(print) {
    heard.set(print.number, { ...print, at: Date.now() });
    for (const [number, entry] of heard) {
      if (Date.now() - entry.at > 600_000) heard.delete(number);
    }
    applyPrint(print);
  }

  // The issue answer's state, unless the live channel already told something newer.
  function startPrintState(ticket) {
    const early = heard.get(ticket.number);
    const fresh = early && Date.now() - early.at < 60_000 && early.state !== "pending";
    if (!applyPrint(fresh ? early : ticket.print)) setPrintState("none");
  }

  // ---- idle -------------------------------------------------------------------------------

  let idleTimer = null;

  function idleSeconds() {
    const override = Number(params.get("idle"));
    if (override > 0) return override;
    const setting = state.snapshot && Number(state.snapshot.settings.idle_seconds);
    return setting > 0 ? setting : IDLE_S;
  }

  function ticketSeconds() {
    const override = Number(params.get("idle"));
    if (override > 0) return override;
    // Without paper the visitor needs time to photograph the screen or scan the code.
    const paperless = PAPERLESS.includes($("app").dataset.print);
    return paperless ? idleSeconds() : Math.min(TICKET_S, idleSeconds());
  }

  function armIdle() {
    clearTimeout(idleTimer);
    if (state.screen === "start") return;
    const seconds = state.screen === "ticket" ? ticketSeconds() : idleSeconds();
    idleTimer = setTimeout(reset, seconds * 1000);
  }

  // ---- the live channel -------------------------------------------------------------------

  const banner = Novbe.statusBanner($("connection"));

  function onStatus(status, reason) {
    banner(status, reason);
    if (status === "refused") setNotice("kiosk.not_set_up");
  }

  // Every connect, and a resync when this kiosk's settings changed (device.updated),
  // brings one: a visitor in the middle of taking a ticket keeps their screen.
  function onSnapshot(snapshot) {
    state.snapshot = snapshot;
    document.querySelectorAll("button.language").forEach((b) => (b.disabled = false));
    setNotice(null);
    if (state.screen === "start") Novbe.setLanguage(startLanguage()); // before the name
    renderCenterName();
    onStats(snapshot.stats);
    if (state.screen === "category") renderCategories();
    if (state.screen === "service") renderPriorities();
  }

  function onStats(stats) {
    state.stats = Object.fromEntries(stats.services.map((row) => [row.service, row]));
    if (state.screen === "service") renderServices();
  }

  // ---- start --------------------------------------------------------------------------------

  function wire() {
    document.querySelectorAll("button.language").forEach((button) => {
      button.addEventListener("click", () => chooseLanguage(button.dataset.lang));
    });
    document.querySelectorAll("[data-back]").forEach((button) => {
      button.addEventListener("click", () => {
        const target = button.dataset.back;
        if (target === "start") reset();
        else {
          renderCategories();
          show(target);
        }
      });
    });
    $("restart").addEventListener("click", reset);
    $("done").addEventListener("click", reset);
    $("retry").addEventListener("click", send);
    // Any touch keeps the visitor's screen.
    for (const event of ["pointerdown", "keydown"]) {
      document.addEventListener(event, armIdle, { capture: true, passive: true });
    }
  }

  function start() {
    document.querySelectorAll(".trilingual").forEach(renderTrilingual);
    Novbe.setLanguage(Novbe.page.language);
    wire();
    show("start");
    if (!state.token) {
      setNotice("kiosk.not_set_up");
      return;
    }
    const socket = Novbe.live(
      { token: state.token },
      {
        snapshot: onSnapshot,
        "queue.stats": onStats,
        "ticket.print_state": onPrintState,
        "device.updated": () => Novbe.resync(socket), // a fresh snapshot, no reload
      },
      { onStatus },
    );
  }

  start();
  return { setPrintState, reset, state };
})();
