// The counter page's drawing: which view shows, the counter picker, and the desk drawn
// from Counter.state (header, current ticket, buttons with why they are off, the
// counter's queues, the priority notice, parked tickets, running timers). Nothing here
// changes the state; the live events and the actions call these to redraw.
"use strict";

(() => {
  const C = Counter;
  const { t, tn, el } = Novbe;
  const { $, state, clock, word, serviceName, currentTicket, recallsMissing } = C;

  function showView(name) {
    clearInterval(state.pickerTimer); // the picker starts its own again when it shows
    state.pickerTimer = null;
    for (const view of ["login", "picker", "desk"]) {
      $(`${view}-view`).hidden = view !== name;
    }
    $("who").hidden = !StaffSession.user;
    $("change-counter").hidden = name !== "desk";
    renderWho();
  }

  function renderWho() {
    const user = StaffSession.user;
    if (!user) return;
    const parts = [user.username];
    if (!$("desk-view").hidden && state.counter) {
      parts.push(t("counter_n", { label: state.counter.label }));
    }
    $("who-name").textContent = parts.join(" · ");
  }

  // ---- the counter picker ------------------------------------------------------------

  const PICKER_SERVICES = 3; // named on a counter's button; the rest are counted

  // "A · New pension" for a counter's first services, then "and 57 more".
  function servedList(counter, services) {
    const named = counter.services.map((code) => {
      const s = services.get(code);
      return s ? `${s.prefix} · ${Novbe.named(s.name)}` : code;
    });
    const rest = named.length - PICKER_SERVICES;
    return el(
      "ul",
      { class: "served", title: named.join("\n") },
      named.slice(0, PICKER_SERVICES).map((text) => el("li", {}, text)),
      rest > 0 ? el("li", { class: "more" }, t("pick.more_services", { n: rest })) : null,
    );
  }

  // The counters this person may work at (none: say whom to ask), each with who works
  // at it now.
  function renderPicker() {
    const stats = state.pickerStats;
    if (!stats) return;
    const services = new Map(stats.services.map((s) => [s.service, s]));
    const buttons = stats.counters.map((counter) => {
      const others = C.othersAt(counter.staff);
      return el(
        "button",
        {
          type: "button",
          class: others.length ? "counter-choice taken" : "counter-choice",
          dataset: { counter: counter.id },
          onclick: () => C.pickCounter(counter.id),
        },
        el("strong", {}, t("counter_n", { label: counter.label })),
        el("span", { class: `state-chip ${counter.state}` }, word("cstate", counter.state)),
        others.length
          ? el("span", { class: "taken-by" }, t("pick.taken_by", { names: C.nameList(others) }))
          : null,
        servedList(counter, services),
        counter.current_ticket
          ? el("span", {}, `${t("ticket")} ${counter.current_ticket.number}`)
          : null,
      );
    });
    $("counter-list").replaceChildren(...buttons);
    const empty = $("picker-empty");
    empty.hidden = buttons.length > 0;
    empty.textContent =
      StaffSession.user && StaffSession.user.role === "staff"
        ? t("pick.none_assigned")
        : t("pick.none");
  }

  // Someone else works at this counter (another tab of mine is not someone else).
  function renderPresence() {
    const notice = $("presence-notice");
    const others = state.presence ? C.othersAt(state.presence.staff) : [];
    notice.hidden = others.length === 0 || state.refused !== null || !state.counter;
    if (notice.hidden) return;
    const label = state.counter.label;
    notice.textContent =
      others.length === 1
        ? t("presence.one", { name: others[0], label })
        : t("presence.many", { names: C.nameList(others), label });
  }

  // ---- the desk ------------------------------------------------------------------------

  function renderDesk() {
    if ($("desk-view").hidden) return;
    const refused = state.refused !== null;
    $("refused").hidden = !refused;
    $("desk").hidden = refused;
    if (refused) {
      $("refused-text").textContent =
        state.refusedCode === "counter_not_assigned"
          ? t("desk.not_assigned")
          : t("desk.refused", { reason: state.refused });
      $("priority-notice").hidden = true;
      $("presence-notice").hidden = true;
      return;
    }
    renderWho();
    renderPresence();
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
        ticket.kind === "appointment" ? bookedTag(ticket) : null,
      ),
      el(
        "dl",
        { class: "facts" },
        // Across the box, two lines at most: a long name in one column went a word a
        // line and pushed Call next off a 768-pixel screen.
        fact(t("service"), serviceName(ticket.service), {
          id: "ticket-service",
          class: "fact wide",
          title: serviceName(ticket.service),
        }),
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

  // A booked visitor: the clerk may expect a prepared case; the slot on the center's clock.
  function bookedTag(ticket) {
    const at = C.bookedAt(ticket);
    return el(
      "span",
      { class: "booked-tag", id: "ticket-booked" },
      at ? t("ticket.booked_at", { time: C.centerTime(at) }) : t("ticket.booked"),
    );
  }

  function renderButtons() {
    for (const button of document.querySelectorAll("#actions button[data-action]")) {
      button.disabled = !C.enabled(button.dataset.action);
    }
    const ticket = currentTicket();
    // Say why the buttons people look for are off.
    const noShowWhy =
      ticket && ticket.status === "called" && recallsMissing(ticket) > 0
        ? tn("why.recall_first", recallsMissing(ticket))
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

  // The longest wait as of the last queue.stats runs on between events (tick()): it is
  // pushed only when the queue changes, and a quiet queue is when it matters most.
  function longestWait(stats) {
    const since = state.statsAt - stats.longest_wait_s * 1000;
    return el(
      "small",
      { class: "muted longest", dataset: { longestSince: String(since) } },
      longestText(C.serverNow() - since),
    );
  }

  function longestText(ms) {
    return t("queues.longest", { time: clock(ms) });
  }

  function renderQueues() {
    const rows = myServiceStats().map((s) =>
      el(
        "li",
        { dataset: { service: s.service }, class: s.priority_waiting ? "has-priority" : "" },
        el(
          "div",
          { class: "queue-name" },
          el("span", { title: Novbe.named(s.name) }, `${s.prefix} · ${Novbe.named(s.name)}`),
          s.active ? null : el("small", { class: "muted" }, t("queues.inactive")),
          s.waiting ? longestWait(s) : null,
        ),
        el(
          "div",
          { class: "queue-figures" },
          el("span", { class: "count", title: t("waiting") }, String(s.waiting)),
          s.priority_waiting
            ? el("small", { class: "priority" }, tn("queues.priority_n", s.priority_waiting))
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
    const entries = C.parkedEntries();
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
              onclick: () => C.resume(entry),
            },
            t("act.resume"),
          ),
        ),
      ),
    );
  }

  // Once a second: the running timers.
  function tick() {
    const now = C.serverNow();
    for (const node of document.querySelectorAll("#desk-view [data-since]")) {
      const since = Date.parse(node.dataset.since);
      node.textContent = Number.isFinite(since) ? clock(now - since) : "";
    }
    for (const node of document.querySelectorAll("#queue-list [data-longest-since]")) {
      node.textContent = longestText(now - Number(node.dataset.longestSince));
    }
  }

  Object.assign(C, {
    showView,
    renderWho,
    renderPicker,
    renderPresence,
    renderDesk,
    renderTicket,
    renderButtons,
    renderQueues,
    renderPriority,
    renderParked,
    tick,
  });
})();
