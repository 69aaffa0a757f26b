// What staff do at the desk: the actions (their keys, when each is valid, what it
// does), run one request at a time over the API; the transfer and pause dialogs; the
// keyboard. The screen itself is redrawn by the live events that follow each action.
"use strict";

(() => {
  const C = Counter;
  const { t, tn, el, ApiError } = Novbe;
  const { $, state, currentTicket } = C;
  const request = StaffSession.request;

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
      valid: (tk) => tk && tk.status === "called" && C.recallsMissing(tk) === 0,
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
    C.renderButtons();
    C.renderParked();
    try {
      await task();
    } catch (err) {
      C.handleApiError(err);
    } finally {
      state.busy = false;
      C.renderButtons();
      C.renderParked();
    }
  }

  async function callNext() {
    // "explain": when nobody can be called, the server says whether some wait anyway
    // (a booking before its slot, a ticket not checked in) rather than a bare 204.
    const answer = await request("POST", `/api/v1/counters/${state.counterId}/call-next`, {
      explain: true,
    });
    if (answer && answer.id !== undefined) C.clearNotice();
    else showNobodyCallable(answer);
  }

  function showNobodyCallable(answer) {
    const at = answer && answer.next_callable_at;
    const absent = (answer && answer.not_checked_in) || 0;
    if (!at && !absent) {
      C.showNotice("info", t("notice.nobody_waiting"));
      return;
    }
    const parts = [];
    if (at) parts.push(t("notice.next_booked_at", { time: C.centerTime(at) }));
    if (absent) parts.push(tn("notice.not_checked_in_n", absent));
    C.showNotice("info", t("notice.nobody_callable"), parts.join(" · "));
  }

  async function ticketAction(action, body = undefined, ticket = currentTicket()) {
    const result = await request("POST", `/api/v1/tickets/${ticket.id}/${action}`, body);
    C.clearNotice();
    return result;
  }

  async function park() {
    const ticket = currentTicket();
    await ticketAction("park", undefined, ticket);
    C.addParked({ id: ticket.id, number: ticket.number, service: ticket.service });
  }

  async function resume(entry) {
    await runTask(async () => {
      try {
        await request("POST", `/api/v1/tickets/${entry.id}/resume`, { counter: state.counterId });
      } catch (err) {
        // Not parked any more (or gone): it has no place in this list.
        if (err instanceof ApiError && [404, 409].includes(err.status)) {
          C.removeParked((e) => e.id === entry.id);
        }
        throw err;
      }
      C.removeParked((e) => e.id === entry.id);
      C.showNotice("info", t("notice.resumed", { number: entry.number }));
    });
  }

  async function setState(counterState, reason = undefined) {
    const body = reason ? { state: counterState, reason } : { state: counterState };
    await request("POST", `/api/v1/counters/${state.counterId}/state`, body);
    C.clearNotice();
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
          { detail: tn("queues.waiting_n", waiting.get(s.code) ?? 0) },
        ),
      ),
    );
    $("transfer-counters").replaceChildren(
      ...counters.map((c) =>
        choice(
          index++,
          t("counter_n", { label: c.label }),
          closeThen(dialog, () => ticketAction("transfer", { counter: c.id }, ticket)),
          { detail: C.word("cstate", c.state) },
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
        choice(i, C.word("pause", reason), closeThen(dialog, () => setState("paused", reason))),
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

  // The action buttons, the dialogs and the keys.
  function bindActions() {
    for (const button of document.querySelectorAll("#actions button[data-action]")) {
      button.addEventListener("click", () => runAction(button.dataset.action));
    }
    for (const dialog of document.querySelectorAll("dialog")) {
      dialog.addEventListener("keydown", onDialogKey);
      dialog.querySelector(".dialog-cancel").addEventListener("click", () => dialog.close());
    }
    document.addEventListener("keydown", onKey);
    document.addEventListener("keyup", onKeyUp);
  }

  Object.assign(C, { enabled, resume, bindActions });
})();
