// The public booking page (/book/<center>) and a booking's own page (/a/<token>).
// Joining the line from home (where the center offers it): pick a service, seeing its
// line, confirm, and go to the new ticket's phone page (/t/<token>), which says when to
// leave home and shows the QR to scan at a kiosk.
// Booking: service -> day (only days with free places) -> time (with the places left)
// -> optional contact -> the code, its QR, the calendar file and the booking's link.
// Every refusal is said in the visitor's language; a time taken meanwhile reloads the
// times. No data in the page itself: everything comes from the public API.
"use strict";

const Book = (() => {
  const { t, tn, el } = Novbe;
  const page = Novbe.page;
  const $ = (id) => document.getElementById(id);
  const API = "/api/v1";

  const state = {
    info: null, // {center, services}
    service: null, // the chosen service's code
    days: null, // [{date, free}]
    day: null,
    slots: null, // [{start, free}]
    slot: null, // the chosen start (ISO)
    booking: null, // the booking made or shown
    error: null, // a key of the words
    errorVars: {}, // and its numbers
    busy: false,
    asking: false, // the cancel confirmation is open
    joining: null, // the code of the service chosen to join from home
  };

  // ---- words for dates and times --------------------------------------------------
  // "2026-12-07" -> "B.e. 07.12" (or "Today"): the weekday from the words, since not
  // every browser formats dates in Azerbaijani.
  function dayLabel(iso) {
    const [y, m, d] = iso.split("-").map(Number);
    const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7; // 0 = Monday
    const short = `${String(d).padStart(2, "0")}.${String(m).padStart(2, "0")}`;
    return `${t(`book.wd.${weekday}`)} ${short}`;
  }

  // The slot's ISO start is already the center's wall time: "2026-12-07T09:15:00+04:00".
  const timeOf = (iso) => iso.slice(11, 16);
  const dayOf = (iso) => iso.slice(0, 10);

  const ERRORS = {
    slot_full: "book.err.slot_full",
    slot_in_past: "book.err.slot_gone",
    slot_not_offered: "book.err.slot_gone",
    too_far_ahead: "book.err.slot_gone",
    contact_limit: "book.err.contact_limit",
    client_limit: "book.err.client_limit",
    service_not_bookable: "book.err.not_bookable",
    appointment_started: "book.err.started",
    already_checked_in: "book.err.started",
    appointment_not_found: "book.not_found",
    remote_joining_off: "book.join.err.off",
    remote_cap_reached: "book.join.err.cap",
    center_closed: "book.join.err.closed",
    too_many_requests: "book.err.too_many", // the per-minute limit, not the daily one
  };

  function errorKey(err) {
    if (!(err instanceof Novbe.ApiError)) return "book.err.network";
    const code = err.body && err.body.error && err.body.error.code;
    return ERRORS[code] || "book.err.other";
  }

  // The words' numbers: the limit a refusal names, or the minutes until a retry.
  function errorVars(err) {
    const details = (err instanceof Novbe.ApiError && err.body && err.body.error && err.body.error.details) || {};
    if (details.retry_after != null) return { n: Math.max(1, Math.ceil(details.retry_after / 60)) };
    return details.limit != null ? { n: details.limit } : {};
  }

  function fail(err, key = errorKey(err)) {
    state.error = key;
    state.errorVars = errorVars(err);
  }

  function showError() {
    $("error").hidden = !state.error;
    $("error").textContent = state.error ? t(state.error, state.errorVars) : "";
  }

  // ---- the booking card (both pages) --------------------------------------------------

  function renderCard() {
    const b = state.booking;
    $("card").hidden = !b;
    if (!b) return;
    const live = b.state === "booked";
    // Came after the grace: not "missed", an ordinary ticket to follow instead.
    const late = b.state === "no_show" && Boolean(b.links.ticket);
    const shown = late ? "late" : b.state;
    $("card").dataset.state = shown;
    $("card-title").textContent = page.view === "book" ? t("book.booked") : t("book.yours");
    $("card-state").textContent = t(`book.state.${shown}`);
    $("card-state").dataset.state = shown;
    $("code").textContent = b.code;
    $("qr").src = b.links.qr;
    $("qr").alt = `${t("book.your_code")}: ${b.code}`;
    $("qr").hidden = !live;
    $("card-service").textContent = Novbe.named(b.service.name);
    $("card-when").textContent = `${dayLabel(dayOf(b.start))} · ${timeOf(b.start)}`;
    $("card-center").textContent = Novbe.named(b.center.name);
    $("code-hint").textContent = late
      ? t("book.late_ticket")
      : t("book.code_hint", { early: b.checkin_early_min });
    $("code-hint").hidden = !(live || late);
    $("follow").hidden = !b.links.ticket;
    if (b.links.ticket) $("follow").href = b.links.ticket;
    $("ics").href = b.links.ics;
    $("ics").hidden = !live;
    $("manage").href = `${b.links.page}?lang=${Novbe.language}`;
    $("manage").hidden = page.view !== "book";
    $("keep-link").hidden = page.view !== "book";
  }

  // ---- the booking page ----------------------------------------------------------------

  function choice(label, pressed, onclick, extra = {}) {
    return el(
      "button",
      { type: "button", class: "book-choice", "aria-pressed": String(pressed), onclick, ...extra },
      label,
    );
  }

  function renderForm() {
    const info = state.info;
    $("form").hidden = !info || !!state.booking;
    $("another").hidden = !state.booking;
    if (!info) return;
    $("center-name").textContent = Novbe.named(info.center.name);
    $("services").replaceChildren(
      ...info.services.map((s) =>
        choice(Novbe.named(s.name), s.code === state.service, () => pickService(s.code)),
      ),
    );
    $("no-services").hidden = info.services.length > 0;

    $("step-day").hidden = !state.service;
    const days = state.days || [];
    $("days").replaceChildren(
      ...days.map((d) =>
        choice(dayLabel(d.date), d.date === state.day, () => pickDay(d.date), {
          "data-date": d.date,
        }),
      ),
    );
    $("no-days").hidden = !(state.days && days.length === 0);

    $("step-time").hidden = !state.day;
    const slots = state.slots || [];
    $("slots").replaceChildren(
      ...slots.map((s) => {
        const button = choice(
          [
            el("span", { class: "book-slot-time" }, timeOf(s.start)),
            el("span", { class: "book-slot-free" }, s.free ? tn("book.free", s.free) : t("book.full")),
          ],
          s.start === state.slot,
          () => pickSlot(s.start),
          { "data-start": s.start, disabled: s.free === 0 },
        );
        return button;
      }),
    );
    $("no-slots").hidden = !(state.slots && !slots.some((s) => s.free > 0));

    $("step-confirm").hidden = !state.slot;
    if (state.slot) {
      $("confirm").textContent = t("book.confirm", {
        day: dayLabel(dayOf(state.slot)),
        time: timeOf(state.slot),
      });
    }
    $("confirm").disabled = state.busy;
  }

  // "3 waiting · ≈ 12 min": the line a visitor joining now would join.
  function lineLabel(service) {
    const parts = [tn("book.join.waiting", service.waiting)];
    if (service.estimated_wait_s != null) {
      parts.push(t("book.join.wait", { minutes: Math.max(1, Math.round(service.estimated_wait_s / 60)) }));
    }
    return parts.join(" · ");
  }

  function renderJoin() {
    const join = (state.info && !state.booking && state.info.join) || [];
    $("join").hidden = join.length === 0;
    $("join-services").replaceChildren(
      ...join.map((s) =>
        choice(
          [
            el("span", { class: "book-join-name" }, Novbe.named(s.name)),
            el("span", { class: "book-join-line muted" }, lineLabel(s)),
          ],
          s.code === state.joining,
          () => {
            state.joining = s.code;
            state.error = null;
            render();
            $("join-confirm").scrollIntoView({ block: "nearest" });
          },
          { "data-service": s.code },
        ),
      ),
    );
    const chosen = join.find((s) => s.code === state.joining);
    $("join-confirm").hidden = !chosen;
    if (chosen) $("join-confirm").textContent = t("book.join.confirm", { service: Novbe.named(chosen.name) });
    $("join-confirm").disabled = state.busy;
  }

  async function joinLine() {
    if (!state.joining || state.busy) return;
    state.busy = true;
    state.error = null;
    render();
    try {
      const ticket = await Novbe.api("POST", `${API}/public/centers/${page.center}/remote-tickets`, {
        body: { service: state.joining, language: Novbe.language },
      });
      window.location.assign(`/t/${ticket.tracking_token}`);
      return;
    } catch (err) {
      // The day's joins from this device; a per-minute refusal has its own words.
      const code = err.body && err.body.error && err.body.error.code;
      fail(err, code === "client_limit" ? "book.join.err.limit" : errorKey(err));
    } finally {
      state.busy = false;
    }
    render();
    window.scrollTo({ top: 0 });
  }

  function render() {
    showError();
    if (page.view === "book") {
      renderJoin();
      renderForm();
    } else renderAppointment();
    renderCard();
  }

  async function load(path) {
    return Novbe.api("GET", `${API}${path}`);
  }

  async function pickService(code) {
    Object.assign(state, { service: code, days: null, day: null, slots: null, slot: null });
    state.error = null;
    render();
    try {
      const body = await load(
        `/public/centers/${page.center}/booking-days?service=${encodeURIComponent(code)}`,
      );
      if (state.service !== code) return;
      state.days = body.days;
    } catch (err) {
      fail(err);
    }
    render();
    if (state.days && state.days.length) $("step-day").scrollIntoView({ block: "nearest" });
  }

  async function loadSlots() {
    const { service, day } = state;
    try {
      const body = await load(
        `/public/centers/${page.center}/slots?service=${encodeURIComponent(service)}&date=${day}`,
      );
      if (state.service !== service || state.day !== day) return;
      state.slots = body.slots;
      if (!state.slots.some((s) => s.start === state.slot && s.free > 0)) state.slot = null;
    } catch (err) {
      fail(err);
    }
    render();
  }

  async function pickDay(date) {
    Object.assign(state, { day: date, slots: null, slot: null, error: null });
    render();
    await loadSlots();
    $("step-time").scrollIntoView({ block: "nearest" });
  }

  function pickSlot(start) {
    state.slot = start;
    state.error = null;
    render();
    $("step-confirm").scrollIntoView({ block: "nearest" });
  }

  async function confirm(event) {
    event.preventDefault();
    if (!state.slot || state.busy) return;
    state.busy = true;
    state.error = null;
    render();
    const contact = $("contact").value.trim();
    const body = { service: state.service, start: state.slot, language: Novbe.language };
    if (contact) body.contact = contact;
    try {
      state.booking = await Novbe.api("POST", `${API}/public/centers/${page.center}/appointments`, {
        body,
      });
      $("contact").value = "";
    } catch (err) {
      fail(err);
      // The time went meanwhile (or the day): show what is free now.
      if (["book.err.slot_full", "book.err.slot_gone"].includes(state.error)) {
        state.slot = null;
        await loadSlots();
      }
    } finally {
      state.busy = false;
    }
    render();
    window.scrollTo({ top: 0 });
  }

  function another() {
    Object.assign(state, { booking: null, day: null, slots: null, slot: null, error: null });
    pickService(state.service);
  }

  async function startBooking() {
    if (!page.center) {
      $("missing").hidden = false;
      return;
    }
    try {
      state.info = await load(`/public/centers/${page.center}/booking`);
    } catch (err) {
      fail(err);
    }
    render();
    if (state.info && state.info.services.length === 1) pickService(state.info.services[0].code);
    $("form").addEventListener("submit", confirm);
    $("another").addEventListener("click", another);
    $("join-confirm").addEventListener("click", joinLine);
  }

  // ---- the booking's own page ------------------------------------------------------------

  function renderAppointment() {
    const b = state.booking;
    if (b) $("center-name").textContent = Novbe.named(b.center.name);
    $("cancel-area").hidden = !(b && b.cancellable);
    $("cancel").hidden = state.asking;
    $("cancel-ask").hidden = !state.asking;
    $("cancel-yes").disabled = state.busy;
    $("done").hidden = !(b && b.state === "cancelled");
    $("done").textContent = t("book.cancelled_done");
    $("book-again").hidden = !b;
    if (b) $("book-again").href = `/book/${b.center.code}?lang=${Novbe.language}`;
    // The reminders' opt-in block (phone_notify.js) follows the booking and the language.
    if (b) document.dispatchEvent(new CustomEvent("booking:render", { detail: b }));
  }

  async function cancelBooking() {
    state.busy = true;
    render();
    try {
      state.booking = await Novbe.api("DELETE", `${API}/appointments/${page.token}`);
      state.error = null;
    } catch (err) {
      fail(err);
    } finally {
      state.busy = false;
      state.asking = false;
    }
    render();
  }

  async function startAppointment() {
    if (!page.token) {
      $("missing").hidden = false;
      return;
    }
    $("cancel").addEventListener("click", () => {
      state.asking = true;
      render();
      $("cancel-no").focus();
    });
    $("cancel-no").addEventListener("click", () => {
      state.asking = false;
      render();
    });
    $("cancel-yes").addEventListener("click", cancelBooking);
    try {
      state.booking = await load(`/appointments/${page.token}`);
    } catch (err) {
      fail(err);
    }
    render();
  }

  // ---- language ----------------------------------------------------------------------------

  function setLanguage(lang) {
    Novbe.setLanguage(lang);
    document.querySelectorAll(".phone-languages button").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    });
    document.querySelector(".phone-languages").setAttribute("aria-label", t("phone.language"));
    render();
  }

  function start() {
    setLanguage(page.language);
    document.querySelectorAll(".phone-languages button").forEach((button) => {
      button.addEventListener("click", () => setLanguage(button.dataset.lang));
    });
    if (page.view === "book") startBooking();
    else startAppointment();
  }

  return { start, state };
})();

Book.start();
