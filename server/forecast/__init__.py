"""Queue intelligence: what the next hour holds for each service, and what a change of
staffing would do to it. See docs/forecast.md.

* simulate.py: the hall as a discrete-event simulation (plain data, no database);
* the modules around it turn a center's records into its inputs and its results into
  forecasts, warnings, suggestions and reports.
"""
