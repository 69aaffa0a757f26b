// The public transparency page (/public/<center>): anyone may read it, no login.
// Per service the people waiting and the estimated wait for a newcomer; today's
// service level and approval rate. It carries no ticket numbers and no staff.
//
// First paint from GET /api/v1/public/centers/<center> (cacheable), then live over
// /live with auth {public: <center>}: a `snapshot` at every (re)connect and
// `public.stats` whenever the queue moves. Nothing is polled.
"use strict";

const PublicPage = (() => {
  const { t, tn, el } = Novbe;
  const $ = (id) => document.getElementById(id);
  const page = Novbe.page;
  const state = { data: null };

  function percent(share) {
    return `${Math.round(share * 100)}%`;
  }

  // ---- drawing ----------------------------------------------------------------------

  function render() {
    const data = state.data;
    if (!data) return;
    $("center-name").textContent = Novbe.named(data.center.name);
    document.title = `${Novbe.named(data.center.name)} · ${t("app.name")}`;
    renderToday(data.today);
    renderServices(data.services);
    // The center's clock, wherever the reader's phone is.
    const time = new Date(data.at).toLocaleTimeString(Novbe.language, {
      hour: "2-digit",
      minute: "2-digit",
      timeZone: data.center.timezone,
    });
    $("updated").textContent = t("public.updated", { time });
  }

  function renderToday(today) {
    const level = today.service_level;
    $("service-level").textContent = level === null ? "–" : percent(level);
    $("service-level-note").textContent =
      level === null ? t("public.nobody_called") : tn("public.of_called", today.called);
    const approval = today.approval_rate;
    $("approval").textContent = approval === null ? "–" : percent(approval);
    $("approval-note").textContent =
      approval === null ? t("public.no_ratings") : tn("public.of_ratings", today.ratings);
  }

  function renderServices(services) {
    const rows = services.map((service) =>
      el(
        "tr",
        { dataset: { service: service.service } },
        el("th", { scope: "row" }, Novbe.named(service.name)),
        el("td", { class: "num waiting" }, String(service.waiting)),
        el("td", { class: "num wait" }, Novbe.waitText(service.estimated_wait_s)),
      ),
    );
    if (!rows.length) {
      rows.push(el("tr", {}, el("td", { colspan: 3, class: "muted" }, t("public.no_services"))));
    }
    $("services").replaceChildren(...rows);
  }

  function show(data) {
    state.data = data;
    render();
  }

  // ---- start ----------------------------------------------------------------------------

  function setLanguage(lang) {
    Novbe.setLanguage(lang);
    document.querySelectorAll(".public-languages button").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    });
    document.querySelector(".public-languages").setAttribute("aria-label", t("public.language"));
    render();
  }

  function start() {
    setLanguage(page.language);
    document.querySelectorAll(".public-languages button").forEach((button) => {
      button.addEventListener("click", () => setLanguage(button.dataset.lang));
    });
    if (!page.center) return; // unknown center: the page says so, nothing to follow
    const code = encodeURIComponent(page.center);
    // The live snapshot brings the same data; the fetch only makes the first paint fast.
    Novbe.api("GET", `/api/v1/public/centers/${code}`).then(
      (data) => state.data || show(data),
      () => {},
    );
    Novbe.live(
      { public: page.center },
      { snapshot: show, "public.stats": show },
      { onStatus: Novbe.statusBanner($("connection")) },
    );
  }

  start();
  return { state };
})();
