// The waiting-room display's called tickets: the latest calls, newest first and
// highlighted (flashing for a few seconds when fresh or recalled), at most MAX_CALLS
// rows so weeks of calls cannot grow the page; numbers and counters are made smaller
// where they would not fit, never cut. With no call yet, one line saying so in the
// language that has its turn (NovbeDisplay.rotating()).
"use strict";

(() => {
  const D = NovbeDisplay;
  const { el } = Novbe;
  const { $, state } = D;

  // A ticket number or counter label wider than its column (a three-letter prefix, a
  // long label) is set smaller until it fits: never cut, as visitors compare it with
  // their ticket character by character.
  function fitWidth(node) {
    node.style.removeProperty("font-size");
    for (let i = 0; i < 3 && node.scrollWidth > node.clientWidth; i++) {
      const size = parseFloat(getComputedStyle(node).fontSize);
      node.style.fontSize = `${Math.floor((size * node.clientWidth) / node.scrollWidth)}px`;
    }
  }

  function fitCalls() {
    document.querySelectorAll("#calls .number, #calls .counter").forEach(fitWidth);
  }

  function renderCalls({ flash = false } = {}) {
    const list = $("calls");
    if (!state.calls.length) {
      const lang = D.rotating();
      list.replaceChildren(el("li", { class: "empty", lang }, D.tIn(lang, "display.no_calls")));
      return;
    }
    const newest = flash ? "call newest flash" : "call newest";
    list.replaceChildren(
      ...state.calls.map((call, i) =>
        el(
          "li",
          {
            class: i === 0 ? newest : "call",
            dataset: { number: call.number, counter: call.counter },
          },
          el("span", { class: "number" }, call.number),
          el("span", { class: "arrow", "aria-hidden": "true" }, "→"),
          el("span", { class: "counter" }, call.counter),
        ),
      ),
    );
    fitCalls();
  }

  // A call or recall: on top, once (a recall moves the ticket up, not repeated).
  // Returns whether this display shows it.
  function addCall(call) {
    if (!D.showsCall(call)) return false;
    const others = state.calls.filter((c) => c.number !== call.number);
    state.calls = [call, ...others].slice(0, D.MAX_CALLS);
    renderCalls({ flash: true });
    return true;
  }

  function clearCalls() {
    state.calls = [];
    renderCalls();
  }

  // The empty state speaks the language whose turn it is; rows need no redraw.
  function onLanguageTurn() {
    if (!state.calls.length) renderCalls();
  }

  Object.assign(D, { renderCalls, fitCalls, addCall, clearCalls, onLanguageTurn });
})();
