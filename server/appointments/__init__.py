"""Appointments, joining from home and the hall's capacity: plain functions over a
session, like server/queue/ (the caller owns the transaction).

* calendar.py: when a center is open on a day (hours, breaks, closed weekdays and days);
* slots.py, booking.py: a service's slots and their bookings;
* checkin.py: a booking or an absent ticket arriving at a kiosk or reception;
* remote.py: joining the line from home; hall.py: how many people the hall holds;
* upkeep.py: bookings not checked in and absent tickets passed over (each minute);
* listing.py: the day's appointments for counters and managers.

The ordering rules are in docs/queue.md, "Appointments and absent tickets".
"""

from datetime import timedelta

# A checked-in appointment is callable from its slot's start minus this lead, so the
# counter can call it as the slot begins (the visitor walks to the counter meanwhile).
APPOINTMENT_LEAD = timedelta(minutes=2)
