// The kiosk's screen flow: which screen shows (start, category, service, unreachable,
// offline, ticket), a new visitor, the start screen's words in all three languages,
// the three taps (language, category, service) with the priority chips and problems on
// the service screen, and the idle timer back to the start. Drawing reads Kiosk.state;
// the tap on a service hands over to kiosk_ticket.js, which issues the ticket.
"use strict";

(() => {
  const K = Kiosk;
  const { t, tn, el } = Novbe;
  const { $, params, LANGUAGES, state } = K;

  // ---- screens -----------------------------------------------------------------

  // `name`, or the offline screen in its place while no ticket can be issued.
  function show(name) {
    name = K.screenFor(name);
    state.screen = name;
    $("app").dataset.screen = name;
    document.querySelectorAll("section[data-screen]").forEach((section) => {
      section.hidden = section.dataset.screen !== name;
    });
    $("restart").hidden = name === "start";
    window.scrollTo(0, 0);
    K.renderLink(); // the banner: all three languages on the start screen, else one
    armIdle();
    K.onShown(); // read aloud in the accessibility mode (kiosk_access.js)
  }

  // A new visitor: forget everything about the last one, including its request key.
  function reset() {
    state.visit += 1;
    K.stopPrintTimer();
    Object.assign(state, { category: null, priority: null, pending: null });
    K.leaveAccess(); // the next visitor meets the ordinary kiosk
    K.setBusy(false);
    Novbe.setLanguage(startLanguage());
    renderCenterName();
    show("start");
  }

  function startLanguage() {
    const wanted = state.snapshot && state.snapshot.settings.language;
    return LANGUAGES.includes(wanted) ? wanted : Novbe.page.language;
  }

  // Words of the start screen, in all three languages at once: nobody has chosen yet.
  function renderTrilingual(element, key = element.dataset.key) {
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

  // ---- language, category, service -----------------------------------------------------
  // Three taps at most: language, category, service. The service tap issues the ticket
  // at once; its button already shows the queue and the estimated wait, and the
  // optional priority chips sit above the services.

  function chooseLanguage(lang) {
    Novbe.setLanguage(lang);
    renderCenterName();
    const offer = K.categories();
    if (offer.length === 1) {
      // One category: skip that step, so a ticket is two taps away.
      openServices(offer[0].code);
    } else {
      renderCategories();
      show("category");
    }
  }

  function renderCategories() {
    const buttons = K.categories().map((category) =>
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
    const category = K.categories().find((c) => c.code === state.category);
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
              onclick: () => K.chooseService(service.code),
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
    $("service-back").dataset.back = K.categories().length === 1 ? "start" : "category";
  }

  // The waiting count and estimated wait of a service: what the visitor weighs before
  // tapping it, since that tap is the last one.
  function serviceMeta(code) {
    if (K.isFull(code)) return t("kiosk.quota_short");
    const row = state.stats[code];
    if (!row) return "";
    return `${tn("kiosk.in_line", row.waiting)} · ${t("kiosk.wait", {
      wait: Novbe.waitText(row.estimated_wait_s),
    })}`;
  }

  // ---- priority ----------------------------------------------------------------------
  // Toggle chips, one of the center's priority classes or none (the default). The
  // chosen one goes with the service tapped next. Like the services, the chips are
  // rebuilt only when the classes or the language change.

  function renderPriorities() {
    const classes = K.priorityClasses();
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
            // Keys priority.<class> live in the common words (server/i18n/common/).
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

  // `key`: the problem's words (the accessibility mode says them too).
  function showProblem(key) {
    $("service-problem").dataset.key = key;
    $("service-problem").textContent = t(key);
    $("service-problem").hidden = false;
  }

  function hideProblem() {
    $("service-problem").hidden = true;
  }

  // ---- idle -------------------------------------------------------------------------------
  // Back to the start screen after this long without a touch, or this long after a
  // ticket was shown. The device setting idle_seconds overrides the first; ?idle=N
  // overrides both (for tests and for trying a kiosk out). The accessibility mode makes
  // them three times longer, warns aloud before they end, and has one on the start
  // screen too, so that a visitor who left does not leave the mode on.
  const IDLE_S = 60;
  const TICKET_S = 20;
  let idleTimer = null;
  let warnTimer = null;

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
    return K.paperless() ? idleSeconds() : Math.min(TICKET_S, idleSeconds());
  }

  function armIdle() {
    clearTimeout(idleTimer);
    clearTimeout(warnTimer);
    const access = K.accessOn();
    if (state.screen === "start" && !access) return;
    if (K.accessSpeaking()) return; // armed again when the speech ends
    let seconds = state.screen === "ticket" ? ticketSeconds() : idleSeconds();
    if (access) {
      seconds *= K.ACCESS_TIME_FACTOR;
      // The warning comes early enough to be heard and answered with a key.
      warnTimer = setTimeout(K.warnIdle, (seconds - Math.min(20, seconds / 3)) * 1000);
    }
    idleTimer = setTimeout(reset, seconds * 1000);
  }

  Object.assign(K, {
    show,
    reset,
    startLanguage,
    renderTrilingual,
    setNotice,
    renderCenterName,
    chooseLanguage,
    renderCategories,
    openServices,
    renderServices,
    renderPriorities,
    showProblem,
    hideProblem,
    armIdle,
  });
})();
