// The admin page's appointment settings (docs/appointments.md, "Settings"): the
// "Booking" tab, one row per service (bookable, slot length, bookings per slot, days
// ahead, the check-in window, what happens after the grace, joining from home and its
// daily cap), and below the center's hours its calendar and door settings (breaks,
// closed weekdays and days, the hall's capacity, the switch for joining from home, how
// long an absent ticket keeps its place). Each Save is one PATCH that the server checks
// whole (a refused field is named) and audits. Loaded after admin_tabs.js.
"use strict";

(() => {
  const { t, el } = Novbe;
  const { state, centerPath, change } = Admin;
  const WEEKDAYS = [0, 1, 2, 3, 4, 5, 6]; // 0 = Monday, as the server counts

  const number = (value, attrs = {}) =>
    el("input", { type: "number", class: "short", value: value ?? "", ...attrs });
  const checkbox = (checked, label) => el("input", { type: "checkbox", checked, "aria-label": label });
  const field = (key, control) => el("label", {}, el("span", {}, t(key)), control);
  const card = (titleKey, ...children) => el("div", { class: "card" }, el("h2", {}, t(titleKey)), ...children);
  const th = (...keys) => el("thead", {}, el("tr", {}, keys.map((key) => el("th", {}, key ? t(key) : ""))));
  // An empty box is "no limit" (null); anything else is sent as typed, for the server to
  // refuse by name if it is not a whole number in range.
  const countOrNull = (input) => (input.value.trim() === "" ? null : Number(input.value));
  // A long list (holidays) wraps and grows in a text area, read whole; Enter adds no line.
  const listBox = (name, value, placeholder) => {
    const box = el("textarea", {
      name,
      rows: 1,
      placeholder,
      spellcheck: "false",
      class: "list-text",
      onkeydown: (event) => event.key === "Enter" && event.preventDefault(),
    });
    box.value = value;
    return box;
  };
  const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

  // ---- the Booking tab: one row per service ---------------------------------------------

  function booking() {
    const rows = state.data.services.map((svc) => {
      const bookable = checkbox(svc.bookable, t("admin.booking.bookable"));
      const slot = number(svc.slot_min, { min: 5, max: 240, "aria-label": t("admin.booking.slot_min") });
      const places = number(svc.bookings_per_slot, { min: 1, "aria-label": t("admin.booking.per_slot") });
      const ahead = number(svc.booking_days_ahead, { min: 0, max: 366, "aria-label": t("admin.booking.days_ahead") });
      const early = number(svc.checkin_early_min, { min: 0, "aria-label": t("admin.booking.early") });
      const grace = number(svc.late_grace_min, { min: 0, "aria-label": t("admin.booking.grace") });
      const after = el(
        "select",
        { "aria-label": t("admin.booking.after_grace") },
        ["walk_in", "refuse"].map((v) => el("option", { value: v, selected: v === svc.after_grace }, t(`admin.booking.after.${v}`))),
      );
      const remote = checkbox(svc.remote_joining, t("admin.booking.remote"));
      const cap = number(svc.remote_daily_cap, { min: 0, placeholder: "–", "aria-label": t("admin.booking.remote_cap") });
      const save = () =>
        change("PATCH", centerPath(`/admin/services/${encodeURIComponent(svc.code)}`), {
          bookable: bookable.checked,
          slot_min: Number(slot.value),
          bookings_per_slot: Number(places.value),
          booking_days_ahead: Number(ahead.value),
          checkin_early_min: Number(early.value),
          late_grace_min: Number(grace.value),
          after_grace: after.value,
          remote_joining: remote.checked,
          remote_daily_cap: countOrNull(cap),
        });
      const cells = [bookable, slot, places, ahead, early, grace, after, remote, cap].map((c) => el("td", {}, c));
      return el(
        "tr",
        { dataset: { service: svc.code } },
        el("td", { class: "name" }, Novbe.named(svc.name), el("div", { class: "muted code" }, svc.code)),
        ...cells,
        el("td", {}, el("button", { type: "button", class: "primary", onclick: save }, t("admin.save"))),
      );
    });
    const head = th(
      "admin.booking.service",
      "admin.booking.bookable",
      "admin.booking.slot_min",
      "admin.booking.per_slot",
      "admin.booking.days_ahead",
      "admin.booking.early",
      "admin.booking.grace",
      "admin.booking.after_grace",
      "admin.booking.remote",
      "admin.booking.remote_cap",
      null,
    );
    return card(
      "admin.tab.booking",
      el("p", { class: "muted" }, t("admin.booking.hint")),
      el("div", { class: "table-scroll" }, el("table", { class: "figures booking-table" }, head, el("tbody", {}, rows))),
    );
  }

  // ---- the center's calendar and door ----------------------------------------------------

  // "13:00-14:00, 16:00-16:15" <-> [{from, to}]. A malformed part is sent as it is, for
  // the server to name (breaks[1].to: must be a time like "09:00").
  const breaksText = (breaks) => breaks.map((b) => `${b.from}-${b.to}`).join(", ");
  const breaksOf = (text) =>
    list(text).map((part) => {
      const [from, to] = part.split("-").map((s) => s.trim());
      return { from: from || "", to: to || "" };
    });

  function calendar() {
    const c = state.data.center;
    const weekdays = WEEKDAYS.map((d) =>
      el(
        "label",
        { class: "weekday" },
        el("input", { type: "checkbox", name: "weekday", value: d, checked: c.closed_weekdays.includes(d) }),
        el("span", {}, t(`admin.booking.weekday.${d}`)),
      ),
    );
    const form = el(
      "form",
      { class: "add", id: "calendar-form" },
      field("admin.booking.breaks", listBox("breaks", breaksText(c.breaks), "13:00-14:00")),
      el("fieldset", { class: "weekdays" }, el("legend", {}, t("admin.booking.closed_weekdays")), weekdays),
      field("admin.booking.closed_days", listBox("days", c.closed_days.join(", "), "2026-12-31, 2027-01-01")),
      field("admin.booking.hall_capacity", number(c.hall_capacity, { name: "hall", min: 1, placeholder: "–" })),
      field("admin.booking.absent_hold", number(c.absent_hold_min, { name: "hold", min: 0 })),
      el("label", { class: "inline" }, el("input", { type: "checkbox", name: "remote", checked: c.remote_joining }), el("span", {}, t("admin.booking.center_remote"))),
      el("button", { type: "submit", class: "primary" }, t("admin.save")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const f = form.elements;
      change("PATCH", centerPath("/settings"), {
        breaks: breaksOf(f.breaks.value),
        closed_weekdays: [...form.querySelectorAll('input[name="weekday"]:checked')].map((box) => Number(box.value)),
        closed_days: list(f.days.value),
        hall_capacity: countOrNull(f.hall),
        absent_hold_min: Number(f.hold.value),
        remote_joining: f.remote.checked,
      });
    });
    return card("admin.booking.calendar", el("p", { class: "muted" }, t("admin.booking.calendar_hint")), form);
  }

  const centerTab = Admin.tabs.center;
  Admin.tabs.center = () => el("div", {}, centerTab(), calendar());
  Admin.tabs.booking = booking;
})();
