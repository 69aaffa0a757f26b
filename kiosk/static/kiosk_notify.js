// The kiosk's "Text me when it's almost my turn": on the ticket screen, when the center
// sends SMS (GET /api/v1/tickets/{token}/contacts lists "sms" among its channels), a
// button opens a big on-screen keypad for a phone number (+994 shown in front, a
// backspace, OK); OK posts the contact and the screen confirms with the masked number
// the server gives back. The keypad lives inside the ticket screen, so the kiosk's
// inactivity reset (kiosk_screens.js) takes it away with the ticket; every tap on it
// re-arms that timer like any other touch.
// Invariants: the typed number is never shown after sending (only the server's masked
// form), and an answer for an earlier visitor (state.visit moved on) changes nothing.
"use strict";

(() => {
  const K = Kiosk;
  const { t } = Novbe;
  const { $, state } = K;
  const PREFIX = "+994";
  const LOCAL_DIGITS = 9; // 50 123 45 67; a leading 0 (050 ...) is dropped
  const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "⌫", "0"];

  const pad = { token: null, visit: null, digits: "", sending: false };

  const contactsPath = (token) => `/api/v1/tickets/${encodeURIComponent(token)}/contacts`;
  const local = () => pad.digits.replace(/^0/, "");

  // "50 123 45 67" as typed so far.
  function grouped(digits) {
    const parts = [digits.slice(0, 2), digits.slice(2, 5), digits.slice(5, 7), digits.slice(7, 9)];
    return parts.filter(Boolean).join(" ");
  }

  // ---- the offer, after a ticket is shown --------------------------------------------------

  async function offerNotify(ticket) {
    Object.assign(pad, { token: ticket.tracking_token, visit: state.visit, digits: "", sending: false });
    $("sms-offer").hidden = true;
    $("sms-done").hidden = true;
    $("sms-pad").hidden = true;
    if (!ticket.tracking_token) return;
    let body;
    try {
      body = await Novbe.api("GET", contactsPath(ticket.tracking_token));
    } catch {
      return; // no answer or no such feature here: no offer, the ticket screen as ever
    }
    if (pad.visit !== state.visit || pad.token !== ticket.tracking_token) return;
    $("sms-offer").hidden = !(body.channels || []).includes("sms");
  }

  // ---- the keypad ----------------------------------------------------------------------------

  function render() {
    const number = $("sms-number");
    const digits = grouped(local());
    number.textContent = `${PREFIX} ${digits}`.trim();
    number.dataset.empty = String(!digits);
    $("sms-send").disabled = pad.sending || local().length !== LOCAL_DIGITS;
    $("sms-send").textContent = pad.sending ? t("kiosk.sms.sending") : t("kiosk.sms.ok");
    $("sms-cancel").disabled = pad.sending;
    // In the language the visitor chose after the keys were made.
    document.querySelector(".sms-key[data-key='⌫']").setAttribute("aria-label", t("kiosk.sms.backspace"));
  }

  function problem(key) {
    const box = $("sms-problem");
    box.hidden = !key;
    box.dataset.key = key || "";
    box.textContent = key ? t(key) : "";
  }

  function open() {
    pad.digits = "";
    problem(null);
    render();
    $("sms-pad").hidden = false;
    K.armIdle(); // the visitor's full time to type, from now
  }

  function close() {
    $("sms-pad").hidden = true;
  }

  function type(key) {
    if (pad.sending) return;
    if (key === "⌫") pad.digits = pad.digits.slice(0, -1);
    else if (local().length < LOCAL_DIGITS) pad.digits += key;
    problem(null);
    render();
  }

  function refusal(err) {
    if (!(err instanceof Novbe.ApiError)) return "kiosk.sms.err.offline";
    const code = err.body && err.body.error ? err.body.error.code : null;
    if (code === "channel_not_enabled") return "kiosk.sms.err.off";
    if (code === "too_many_contacts") return "kiosk.sms.err.too_many";
    if (err.status === 400 || err.status === 422) return "kiosk.sms.err.bad_number";
    return "kiosk.sms.err.failed";
  }

  async function send() {
    if (pad.sending || local().length !== LOCAL_DIGITS) return;
    const visit = pad.visit;
    pad.sending = true;
    problem(null);
    render();
    let contact;
    try {
      contact = await Novbe.api("POST", contactsPath(pad.token), {
        token: state.token,
        body: { channel: "sms", address: `${PREFIX}${local()}`, language: Novbe.language },
      });
    } catch (err) {
      if (visit !== state.visit) return;
      pad.sending = false;
      problem(refusal(err));
      render();
      return;
    }
    pad.digits = ""; // the number itself is not kept on the kiosk
    pad.sending = false;
    if (visit !== state.visit) return;
    close();
    $("sms-offer").hidden = true;
    const done = $("sms-done");
    done.dataset.masked = contact.masked || "";
    done.textContent = t("kiosk.sms.done", { number: contact.masked || "" });
    done.hidden = false;
    K.armIdle();
  }

  function wire() {
    const keys = $("sms-keys");
    for (const key of KEYS) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sms-key";
      button.textContent = key;
      button.dataset.key = key;
      button.addEventListener("click", () => type(key));
      keys.append(button);
    }
    $("sms-offer").addEventListener("click", open);
    $("sms-cancel").addEventListener("click", close);
    $("sms-send").addEventListener("click", send);
  }

  wire();
  Object.assign(K, { offerNotify });
})();
