"""The retention pages under /w/<slug>/retention/ (signed-in members): the schedule,
legal holds, purge receipts, and the debt page's "place a hold" form. Workspace
closure has its own routes (``retention.urls_closure``)."""

from django.urls import URLPattern, URLResolver, path

from retention import holds_views as h
from retention import runs_views as r
from retention import schedule_views as s

urlpatterns: list[URLPattern | URLResolver] = [
    path("", s.schedule, name="retention_schedule"),
    path("schedule.csv", s.schedule_export, name="retention_schedule_export"),
    path("periods/", s.period_set, name="retention_period_set"),
    path("runs/", r.runs_list, name="retention_runs"),
    path("runs/start/", s.run_start, name="retention_run_start"),
    path("runs/<uuid:run_id>/", r.run_detail, name="retention_run"),
    path("holds/", h.holds_list, name="retention_holds"),
    path("holds/export.csv", h.holds_export, name="retention_holds_export"),
    path("holds/<uuid:hold_id>/lift/", h.hold_lift, name="retention_hold_lift"),
    path("holds/<uuid:hold_id>/review/", h.hold_review, name="retention_hold_review"),
    path("debts/<uuid:debt_id>/holds/", h.debt_hold_place, name="retention_debt_hold"),
]
