"""The report: from referral data to this week's outreach plan, in one page.

:func:`write_report` computes every section, writes every table as CSV
(counts from 1 to 10 suppressed), the network views beside the report, and
one self-contained HTML page (inline CSS and SVG charts, one short inline script
that sorts, searches and pages its tables, no network request) that a liaison
opens offline.

The page is rendered by :func:`render_html` from Jinja2 templates shipped with
the package (``referral_graph/templates/``: ``report.html.j2`` on the layout
``base.html.j2`` and the stylesheet ``page.css`` that every page shares, with
the building blocks of ``macros.html.j2``), autoescaping on; the Python side
prepares plain, formatted values, every count through
:func:`referral_graph.privacy.format_count`.

Sections
--------
* **Since the last report** — with a referral store
  (``write_report(store=...)``, CLI ``--store``): what changed since the last
  report recorded there (:func:`what_changed`), also written as
  ``changes.csv``; each report run from a store is recorded in it.
* **Headline** — referrals received from outside referrers, active referring
  providers, share of wallet, leakage, new and lost referrers: the last
  ``window`` months (default 3) against the ``window`` months before and the
  same months a year earlier.
* **Key referrers** — :func:`referral_graph.leakage.key_referrers`.
* **Leakage** — by specialty and by competitor
  (:func:`referral_graph.leakage.leakage_summary`).
* **At-risk ties** — :func:`referral_graph.churn.at_risk` on ties into the
  focus organisation, with reasons and expected loss, and the model's
  backtest against simple rules (:func:`referral_graph.churn.backtest`).
* **This week's outreach list** — referrers ranked by the expected loss of
  their at-risk ties (two thirds) and the value of the relationship (one
  third, its key-referrer score), capped at the visit capacity, grouped by
  practice and town so visits can be batched, each with a talking point.
* **Prospects** — :func:`referral_graph.prospects.prospects`.
* **Outreach impact** — :func:`referral_graph.outreach.outreach_effect` when an
  activity log is given.
* **Trends** — monthly referrals to the focus vs competitors (in the focus
  specialties), and by referrer segment.
* **Network views** — pages written beside the report.

Profiles
--------
:func:`profile` gathers what the report knows about one provider on one printable
page (a :class:`Profile`: ``.write(path)``, shown inline in JupyterLab): who they
are, their referrals to us and to competitors by month, ties to our providers,
at-risk ties, prospects among their partners, activities, talking points and their
referral neighbourhood. :func:`write_report` writes one per provider on its lists
into ``profiles/`` and links the names to them (CLI: ``referral-graph profile``).

Sections that need dates say so on data without them (aggregated edge files).

The toolkit supports care coordination and relationship repair; it does not
compute compensation tied to referral volume or value (see
``docs/privacy.md``).
"""

from __future__ import annotations

# In the order of the API page, which lists the members in the order they are imported
# here (mkdocs.yml: members_order: source).
# isort: off
from referral_graph.report._model import Report
from referral_graph.report._changes import what_changed
from referral_graph.report._headline import headline_figures, monthly_series
from referral_graph.report._tables import talking_point, outreach_list, build_report
from referral_graph.report._page import COMPLIANCE as COMPLIANCE
from referral_graph.report._page import render_html
from referral_graph.report._write import write_report
from referral_graph.report._profile_page import Profile, profile
# isort: on

__all__ = [
    "Profile",
    "Report",
    "build_report",
    "headline_figures",
    "monthly_series",
    "outreach_list",
    "profile",
    "render_html",
    "talking_point",
    "what_changed",
    "write_report",
]
