"""Drivers and agents for a center's devices: ticket printers, LED displays, call buttons,
the server-side voice.

* Ticket printers: :mod:`hardware.ticket` (what a ticket says), :mod:`hardware.escpos_render`
  (its ESC/POS bytes), :mod:`hardware.printer` (addresses, status, connections, printing),
  :mod:`hardware.kiosk_agent` with :mod:`hardware.kiosk_journal` (``novbe kiosk-agent``:
  prints a kiosk's tickets on the kiosk PC, each at most once).
* The loopback printer, :mod:`hardware.loopback_printer`: a stand-in ESC/POS printer for
  the tests and the demo (``novbe loopback-printer``).
* Counters: :mod:`hardware.led` (number displays), :mod:`hardware.button` (call buttons),
  :mod:`hardware.serial_line` (their serial ports), :mod:`hardware.counter_agent` with
  :mod:`hardware.staff_credentials` (``novbe counter-agent``).
* :mod:`hardware.voice`: call announcements rendered by espeak-ng, for displays whose
  browser cannot speak.
"""
