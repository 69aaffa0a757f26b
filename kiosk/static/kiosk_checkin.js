// Arrival at the kiosk (docs/queue.md, "Appointments and absent tickets"): "I have an
// appointment" on the start screen opens an on-screen keypad (letters and digits, big
// keys, backspace, clear) for the booking's code. A keyboard-wedge scanner needs no
// touch at all: it types the QR's text (a booking's code, or the tracking URL of a
// ticket joined from home or taken while the hall was full) and Enter, on the start
// screen or the keypad's. POST /centers/{center}/check-in answers with the ticket,
// shown and printed like any ticket (kiosk_ticket.js), or a refusal in the visitor's
// language.
"use strict";

(() => {
  const K = Kiosk;
  const { t } = Novbe;
  const { $, state } = K;
  // Only the characters a code can hold (CODE_ALPHABET in server/appointments/booking.py:
  // no 0/O, 1/I, 8/B, 5/S... pairs to confuse): fewer, bigger keys, and no slip can type
  // a character no code has.
  const KEYS = "ACEFHKLMNPRTUVWXY2345679";
  const MAX_TYPED = 200; // a tracking URL with a long host name
  const SHOWN_CODE = 12; // longer input (a scanned URL) is shown shortened
  const SCAN_GAP_MS = 300; // a scanner types far faster than a person
  // The server's refusal codes and the words for them (checkin.* keys).
  const REFUSALS = {
    too_early: "checkin.too_early",
    too_late: "checkin.too_late",
    wrong_center: "checkin.wrong_center",
    already_checked_in: "checkin.already",
    appointment_cancelled: "checkin.cancelled",
    appointment_no_show: "checkin.missed",
    appointment_not_found: "checkin.not_found",
    ticket_not_found: "checkin.not_found",
    invalid_input: "checkin.not_found",
    place_released: "checkin.released",
    hall_full: "checkin.hall_full",
    ticket_closed: "checkin.closed",
    service_inactive: "kiosk.service_inactive",
    quota_reached: "kiosk.quota_reached",
    too_many_attempts: "checkin.too_many",
  };

  let typed = ""; // what the keypad (or a keyboard on the keypad screen) typed
  let scanned = ""; // keys arriving on the start screen, as a scanner types them
  let lastKeyAt = 0;
  let chosenLanguage = false; // the visitor picked a language on the keypad screen

  function open() {
    typed = "";
    chosenLanguage = false;
    hideProblem();
    render();
    K.show("checkin");
  }

  function render() {
    const shown = typed.length > SHOWN_CODE ? `…${typed.slice(-SHOWN_CODE)}` : typed;
    $("checkin-code").textContent = shown || "—";
    $("checkin-code").dataset.empty = String(!typed);
    $("checkin-send").disabled = state.busy || !typed;
    $("checkin-backspace").disabled = state.busy || !typed;
    $("checkin-clear").disabled = state.busy || !typed;
    $("checkin-keys")
      .querySelectorAll("button")
      .forEach((b) => (b.disabled = state.busy));
    document.querySelectorAll("[data-checkin-lang]").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.checkinLang === Novbe.language));
    });
  }

  function type(text) {
    if (state.busy) return;
    hideProblem();
    typed = (typed + text).slice(0, MAX_TYPED);
    render();
  }

  function backspace() {
    typed = typed.slice(0, -1);
    hideProblem();
    render();
  }

  function clear() {
    typed = "";
    hideProblem();
    render();
  }

  function showProblem(key, vars = {}) {
    const problem = $("checkin-problem");
    problem.dataset.key = key;
    problem.dataset.vars = JSON.stringify(vars);
    problem.textContent = t(key, vars);
    problem.hidden = false;
  }

  function hideProblem() {
    $("checkin-problem").hidden = true;
  }

  function setBusy(busy) {
    state.busy = busy;
    $("checkin-status").hidden = !busy;
    $("checkin-status").textContent = busy ? t("checkin.sending") : "";
    render();
  }

  // A time the server sent (UTC), as the center's clock shows it.
  function centerTime(iso) {
    const zone = state.snapshot && state.snapshot.center.timezone;
    const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    try {
      return new Date(iso).toLocaleTimeString("en-GB", { ...options, timeZone: zone });
    } catch {
      return new Date(iso).toLocaleTimeString("en-GB", options);
    }
  }

  async function send() {
    const code = typed.trim();
    if (state.busy || !code || !state.snapshot) return;
    const visit = state.visit;
    setBusy(true);
    // The language picked on the keypad is the ticket's (printed, and its phone page);
    // without a pick, the booking's own.
    const body = chosenLanguage ? { code, language: Novbe.language } : { code };
    let ticket;
    try {
      ticket = await Novbe.api("POST", `/api/v1/centers/${state.snapshot.center.code}/check-in`, {
        token: state.token,
        body,
      });
    } catch (err) {
      if (visit !== state.visit) return;
      setBusy(false);
      refused(err);
      return;
    }
    if (visit !== state.visit) return;
    setBusy(false);
    typed = "";
    // A scan on the start screen chose no language: the booking's (or ticket's) own.
    if (!chosenLanguage && ticket.language) {
      Novbe.setLanguage(ticket.language);
      K.renderCenterName();
    }
    K.showTicket(ticket);
  }

  function refused(err) {
    if (state.screen !== "checkin") K.show("checkin");
    if (!(err instanceof Novbe.ApiError) || err.status >= 500) {
      showProblem("checkin.failed");
      return;
    }
    if (err.status === 401 || err.status === 403) {
      showProblem("kiosk.refused");
      return;
    }
    const error = err.body && err.body.error;
    const code = error ? error.code : null;
    const details = (error && error.details) || {};
    const key = REFUSALS[code] || "checkin.failed";
    const at = code === "too_late" ? details.start : details.opens_at;
    showProblem(key, {
      time: at ? centerTime(at) : "",
      limit: Novbe.waitText(details.come_in_s),
      wait: Novbe.waitText(details.estimated_wait_s),
    });
    if (["appointment_not_found", "ticket_not_found", "invalid_input"].includes(code)) {
      render(); // the code stays, to be corrected
    } else {
      typed = "";
      render();
    }
  }

  // The ticket screen's extra line: when an appointment is, that a late visitor got an
  // ordinary ticket, that an outside ticket waits outside, that a remote one is in.
  function renderTicketNote(ticket) {
    const note = $("ticket-note");
    let text = "";
    if (ticket.late) text = t("checkin.late_note");
    else if (ticket.appointment) {
      text = t("checkin.appointment_note", { time: centerTime(ticket.appointment.start) });
    } else if (ticket.kind === "outside" && !ticket.checked_in) {
      text = t("checkin.outside_note"); // the issue's answer: the hall is full
    } else if (["remote", "outside"].includes(ticket.kind) && ticket.checked_in) {
      text = t("checkin.in_note");
    }
    note.hidden = !text;
    note.textContent = text;
    note.dataset.kind = ticket.kind || "";
  }

  // ---- keys: the keypad, a keyboard, a scanner -----------------------------------------

  function onKeyDown(event) {
    if (K.accessOn() || event.ctrlKey || event.metaKey || event.altKey) return;
    const printable = event.key.length === 1 && event.key !== "*";
    if (state.screen === "checkin") {
      if (printable) type(event.key);
      else if (event.key === "Backspace") backspace();
      else if (event.key === "Enter") send();
      else return;
      event.preventDefault();
      event.stopImmediatePropagation(); // not the accessibility mode's Enter hold
      K.armIdle();
      return;
    }
    if (state.screen !== "start" || !K.canIssue()) return;
    // The start screen: keys a scanner types, then Enter. Slow keys are a person.
    const now = Date.now();
    if (now - lastKeyAt > SCAN_GAP_MS) scanned = "";
    lastKeyAt = now;
    if (printable) {
      scanned = (scanned + event.key).slice(0, MAX_TYPED);
    } else if (event.key === "Enter" && scanned.length >= 6) {
      event.preventDefault();
      event.stopImmediatePropagation();
      typed = scanned;
      scanned = "";
      chosenLanguage = false;
      hideProblem();
      render();
      K.show("checkin");
      send();
    }
  }

  function wireCheckin() {
    const keys = $("checkin-keys");
    for (const key of KEYS) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "checkin-key";
      button.textContent = key;
      button.dataset.key = key;
      button.addEventListener("click", () => type(key));
      keys.append(button);
    }
    $("checkin-start").addEventListener("click", open);
    $("checkin-backspace").addEventListener("click", backspace);
    $("checkin-clear").addEventListener("click", clear);
    $("checkin-send").addEventListener("click", send);
    document.querySelectorAll("[data-checkin-lang]").forEach((button) => {
      button.addEventListener("click", () => {
        chosenLanguage = true;
        Novbe.setLanguage(button.dataset.checkinLang);
        K.renderCenterName();
        const problem = $("checkin-problem");
        if (!problem.hidden) {
          problem.textContent = t(problem.dataset.key, JSON.parse(problem.dataset.vars || "{}"));
        }
        render();
      });
    });
    // Before the accessibility mode's listener (kiosk_access.js): registered first.
    document.addEventListener("keydown", onKeyDown, true);
  }

  Object.assign(K, { wireCheckin, renderTicketNote, openCheckin: open });
})();
