"""Drivers for a center's devices: ticket printers, LED displays, call buttons (issue 4)."""
