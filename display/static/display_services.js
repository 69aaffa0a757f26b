// The waiting-room display's waiting list, laid out and paged so that every service
// with visitors waiting is seen, whatever the number of services or the length of
// their names.
//
// Order: services with visitors waiting first, then the idle ones, each in the
// center's order. A row is as tall as its name needs (at most two lines, then an
// ellipsis; the estimated wait on its own line below). The rows are laid out in the
// list, measured, and cut into pages of what fits its height, in the language shown
// now (names' lengths differ by language). When those with visitors waiting do not
// fit on one page, the rows are made compact first; then the pages take turns every
// few seconds (display.js), with "page 2 of 3" above the list. Idle services fill
// what room is left on the last page with someone waiting, but never cost a page of
// their own: nobody looks for them.
//
// The turns: each page is shown in turn, and after the last one the words' language
// changes (NovbeDisplay.rotating()); so every page is seen in every language, which
// would not be so if pages and languages changed together.
"use strict";

(() => {
  const D = NovbeDisplay;
  const { el } = Novbe;
  const { $, state, tIn } = D;
  const MAX_DOTS = 12; // beyond that, only the words "page 5 of 14"

  let pages = []; // the rows (li) of each page, for the list drawn last

  function waitIn(lang, seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return tIn(lang, "under_a_minute");
    return "≈ " + tIn(lang, "minutes", { n: Math.round(seconds / 60) });
  }

  function serviceRow(service, lang) {
    const wait = service.waiting ? waitIn(lang, service.estimated_wait_s) : "";
    return el(
      "li",
      { class: "service", dataset: { service: service.service, waiting: service.waiting } },
      el("span", { class: "prefix", dataset: { length: service.prefix.length } }, service.prefix),
      el(
        "span",
        { class: "about", lang },
        el("span", { class: "name" }, D.named(service.name, lang)),
        wait ? el("span", { class: "wait" }, wait) : null,
      ),
      el("span", { class: "count" }, String(service.waiting)),
    );
  }

  // Services with visitors waiting first; otherwise the center's order is kept.
  function inOrder(services) {
    const busy = services.filter((s) => s.waiting > 0);
    return [...busy, ...services.filter((s) => !busy.includes(s))];
  }

  // The rows, laid out one under the other in the list, cut into pages of what fits
  // its height. A row taller than the list (it cannot be: two lines at most) would
  // get a page of its own.
  function paginate(list, rows) {
    const room = list.getBoundingClientRect().height;
    const result = [];
    let current = [];
    let top = 0;
    for (const row of rows) {
      const box = row.getBoundingClientRect();
      if (current.length && box.bottom - top > room + 0.5) {
        result.push(current);
        current = [];
      }
      if (!current.length) top = box.top;
      current.push(row);
    }
    if (current.length) result.push(current);
    return result;
  }

  // The last page with someone waiting (-1: nobody waits).
  function lastBusy() {
    return pages.findLastIndex((page) => page.some((row) => row.dataset.waiting !== "0"));
  }

  function renderServices() {
    if (!state.stats) return; // nothing known before the first snapshot
    const lang = D.rotating();
    const list = $("services");
    const services = inOrder(D.shownServices());
    list.classList.remove("many");
    if (!services.length) {
      pages = [];
      list.replaceChildren(el("li", { class: "empty", lang }, tIn(lang, "display.no_services")));
      renderCue(lang);
      return;
    }
    const rows = services.map((service) => serviceRow(service, lang));
    list.replaceChildren(...rows);
    pages = paginate(list, rows);
    if (lastBusy() > 0) {
      list.classList.add("many");
      pages = paginate(list, rows);
    }
    for (const idle of pages.splice(Math.max(lastBusy(), 0) + 1).flat()) idle.remove();
    state.page = Math.min(state.page, pages.length - 1);
    showPage(lang);
  }

  function showPage(lang = D.rotating()) {
    pages.forEach((rows, i) => rows.forEach((row) => (row.hidden = i !== state.page)));
    renderCue(lang);
  }

  function renderCue(lang) {
    const cue = $("pages");
    const total = pages.length;
    cue.hidden = total < 2;
    cue.lang = lang;
    if (total < 2) {
      cue.replaceChildren();
      return;
    }
    const dots = pages.map((_, i) => el("span", { class: i === state.page ? "dot on" : "dot" }));
    cue.replaceChildren(
      el("span", { class: "page-of" }, tIn(lang, "display.page", { n: state.page + 1, total })),
      total > MAX_DOTS ? null : el("span", { class: "dots", "aria-hidden": "true" }, dots),
    );
  }

  // The next page. False after the last one: page 1 is next, in the next language,
  // and the caller redraws everything in it.
  function turnPage() {
    if (state.page + 1 < pages.length) {
      state.page += 1;
      showPage();
      return true;
    }
    state.page = 0;
    return false;
  }

  Object.assign(D, { renderServices, turnPage });
  // How many pages the list has now (console and tests).
  Object.defineProperty(D, "pageCount", { get: () => pages.length, enumerable: true });
})();
