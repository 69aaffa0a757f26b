// The kiosk's ticket: issuing it over the API when a service is tapped, with an
// Idempotency-Key so that a retry after a lost answer gives back the same ticket
// instead of a second one; what a refusal or no answer shows; the ticket screen; and
// whether the visitor gets paper (printing, printed, or an e-ticket and why).
"use strict";

(() => {
  const K = Kiosk;
  const { t, el } = Novbe;
  const { $, state } = K;

  // ---- issuing ----------------------------------------------------------------------

  function chooseService(code) {
    if (state.busy) return;
    K.hideProblem();
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
    K.renderPriorities();
    K.renderServices();
  }

  function errorCode(err) {
    const body = err instanceof Novbe.ApiError ? err.body : null;
    return body && body.error ? body.error.code : null;
  }

  function issueFailed(err) {
    // No answer, or the server failed: the ticket may or may not exist. Retrying with
    // the same key settles it either way.
    if (!(err instanceof Novbe.ApiError) || err.status >= 500) {
      K.show("unreachable");
      return;
    }
    const code = errorCode(err);
    const service = state.pending.body.service;
    state.pending = null; // the server answered: this request is settled
    if (code === "quota_reached") {
      state.full[service] = K.today();
      K.showProblem("kiosk.quota_reached");
    } else if (code === "service_inactive") {
      state.stats[service] = { ...(state.stats[service] || {}), active: false };
      K.showProblem("kiosk.service_inactive");
    } else if (err.status === 401 || err.status === 403) {
      K.showProblem("kiosk.refused");
    } else {
      K.showProblem("kiosk.error");
    }
    // Back to the services (also after a retry from the unreachable screen), with the
    // full or switched-off one marked or gone.
    K.renderServices();
    K.show("service");
  }

  function showTicket(ticket) {
    const service = K.findService(ticket.service);
    $("ticket-number").textContent = ticket.number;
    $("ticket-service").textContent = service ? Novbe.named(service.name) : ticket.service;
    $("ticket-position").textContent = ticket.position ?? "–";
    $("ticket-wait").textContent = Novbe.waitText(ticket.estimated_wait_s);
    K.renderTicketNote(ticket); // an appointment's, a late one's, an outside ticket's line
    const qr = $("ticket-qr");
    qr.alt = t("kiosk.qr_alt");
    qr.src = `/api/v1/tickets/${encodeURIComponent(ticket.tracking_token)}/qr.svg`;
    $("app").dataset.ticket = ticket.number;
    $("app").dataset.ticketService = ticket.service;
    K.show("ticket");
    startPrintState(ticket);
    K.offerNotify(ticket); // "text me" when the center sends SMS (kiosk_notify.js)
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
    if (state.screen === "ticket") K.armIdle(); // a paperless ticket stays up longer
  }

  function stopPrintTimer() {
    clearTimeout(printTimer);
  }

  // Whether the ticket on screen is the visitor's only ticket (no paper coming).
  function paperless() {
    return PAPERLESS.includes($("app").dataset.print);
  }

  // {number, state, reason} from the server, for the ticket on screen or one on its way.
  function applyPrint(print) {
    if (!print || !print.state) return false;
    const shown = state.screen === "ticket" && $("app").dataset.ticket === print.number;
    if (shown) setPrintState(SERVER_STATES[print.state] || "none", print.reason);
    return shown;
  }

  // ticket.print_state from the live channel.
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

  Object.assign(K, {
    chooseService,
    send,
    showTicket,
    setBusy,
    setPrintState,
    stopPrintTimer,
    paperless,
    onPrintState,
  });
})();
