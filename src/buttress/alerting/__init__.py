"""SLOs and alerts as code: one ``alerting:`` section of ``buttress.yaml`` generates the
Prometheus recording and alert rules, the Alertmanager configuration, Grafana dashboards and
the tests (``promtool test rules``, ``amtool config routes test``) that prove them.

Modules: :mod:`.generate` (the whole output, and the :class:`GeneratedFile` every part
returns), :mod:`.labels` (the label contract shared by the rules and the routing), :mod:`.tools`
(finding and running ``promtool``/``amtool``), and one module per part: :mod:`.slo`,
:mod:`.presets`, :mod:`.alertmanager`, :mod:`.dashboards`.
"""
