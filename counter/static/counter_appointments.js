// Today's appointments at the counter (GET /api/v1/centers/{c}/appointments): the
// bookings of the services this counter serves, with their state, ticket and how early
// or late they came, in a section the clerk opens when wanted. Fetched with each
// snapshot, when opened, and after queue changes (a check-in or a call changes it): at
// most once in a few seconds while open, once a minute while closed (its summary says
// how many are still expected). Nothing polls.
"use strict";

(() => {
  const C = Counter;
  const { t, el } = Novbe;
  const { $, state } = C;

  const REFRESH_DELAY_MS = 2000; // a burst of queue events costs one request
  const CLOSED_REFRESH_MS = 60 * 1000; // closed, only the count shows: it may lag a little

  const appts = { list: null, timer: null, fetches: 0, loadedAt: 0, asked: null };

  function onSnapshot() {
    appts.list = null;
    load();
  }

  // After a queue change: again soon if the section is open, else now and then.
  function changed() {
    if (!$("appts").open && Date.now() - appts.loadedAt < CLOSED_REFRESH_MS) return;
    clearTimeout(appts.timer);
    appts.timer = setTimeout(load, REFRESH_DELAY_MS);
  }

  async function load() {
    const code = state.centerCode;
    if (!code) return;
    const fetchId = ++appts.fetches;
    appts.loadedAt = Date.now();
    try {
      const body = await StaffSession.request(
        "GET",
        `/api/v1/centers/${encodeURIComponent(code)}/appointments`,
      );
      if (fetchId !== appts.fetches || code !== state.centerCode) return; // an older answer
      appts.list = body.appointments;
      C.showInline($("appts-error"), "");
      render();
      const ticket = C.currentTicket();
      if (ticket && ticket.kind === "appointment") {
        C.renderTicket(); // the called visitor's slot time, if it was not known yet
        C.tick();
      }
    } catch (err) {
      if (!(err instanceof Novbe.ApiError && err.status === 401)) {
        C.showInline($("appts-error"), t("appointments.unavailable"));
      }
    }
  }

  const time = (iso) => C.centerTime(iso);

  // The slot start of the booking a ticket came from (the staff's ticket has no slot;
  // today's list has it, by ticket number), or null while the list does not know it.
  function bookedAt(ticket) {
    const row = (appts.list || []).find((a) => a.ticket && a.ticket.number === ticket.number);
    if (!row && appts.list && appts.asked !== ticket.number) {
      appts.asked = ticket.number; // checked in after the list was read: read it once more
      clearTimeout(appts.timer);
      appts.timer = setTimeout(load, 0);
    }
    return row ? row.start : null;
  }

  function punctuality(minutes) {
    if (minutes === null) return "";
    if (minutes === 0) return t("appointments.on_time");
    const n = Math.abs(minutes);
    return minutes < 0 ? t("appointments.early_by", { n }) : t("appointments.late_by", { n });
  }

  // The counter's own services' bookings, cancelled ones left out (nobody comes).
  function mine() {
    if (!appts.list || !state.counter) return [];
    const served = new Set(
      state.counter.services
        .map((id) => state.services.find((s) => s.id === id))
        .filter(Boolean)
        .map((s) => s.code),
    );
    return appts.list.filter((a) => served.has(a.service.code) && a.stage !== "cancelled");
  }

  function render() {
    const list = mine();
    const expected = list.filter((a) => a.stage === "booked" || a.stage === "checked_in").length;
    $("appts-count").textContent = appts.list ? t("appointments.expected", { n: expected }) : "";
    $("appts-list").replaceChildren(
      ...list.map((a) =>
        el(
          "li",
          { class: `appt ${a.stage}`, dataset: { code: a.code, stage: a.stage } },
          el("span", { class: "appt-time" }, time(a.start)),
          el("strong", { class: "appt-who" }, a.ticket ? a.ticket.number : a.code),
          // On a line of its own under the number and state: the side column is narrow.
          el(
            "small",
            { class: "appt-service muted", title: Novbe.named(a.service.name) },
            `${a.service.prefix} · ${Novbe.named(a.service.name)}`,
          ),
          el(
            "span",
            { class: "appt-state" },
            el("span", { class: `stage ${a.stage}` }, t(`appointments.stage.${a.stage}`)),
            el("small", { class: "muted" }, punctuality(a.punctuality_min)),
          ),
        ),
      ),
    );
    $("appts-empty").hidden = list.length > 0 || !appts.list;
  }

  $("appts").addEventListener("toggle", () => {
    if ($("appts").open) load();
  });

  Object.assign(C, {
    appointmentsSnapshot: onSnapshot,
    appointmentsChanged: changed,
    renderAppointments: render,
    bookedAt,
  });
})();
