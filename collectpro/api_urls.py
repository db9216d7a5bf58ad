"""The REST API's routes under /api/v1/, assembled from the apps that serve them."""

from django.urls import include, path

from accounts import api_clients as clients
from communications import api as communications_api
from debtors.api import views
from placements import api as placements_api

urlpatterns = [
    path("clients/", clients.ClientListCreateApi.as_view(), name="api_clients"),
    path("clients/<uuid:id>/", clients.ClientDetailApi.as_view(), name="api_client_detail"),
    path("debtors/", views.DebtorListCreateApi.as_view(), name="api_debtors"),
    path("debtors/<uuid:id>/", views.DebtorDetailApi.as_view(), name="api_debtor_detail"),
    path("debts/", views.DebtListCreateApi.as_view(), name="api_debts"),
    path("debts/<uuid:id>/", views.DebtDetailApi.as_view(), name="api_debt_detail"),
    path("debts/<uuid:id>/status/", views.DebtStatusApi.as_view(), name="api_debt_status"),
    path("debts/<uuid:id>/ledger/", views.LedgerApi.as_view(), name="api_debt_ledger"),
    path("debts/<uuid:id>/timeline/", views.TimelineApi.as_view(), name="api_debt_timeline"),
    path("debts/<uuid:id>/payments/", views.PaymentCreateApi.as_view(), name="api_debt_payments"),
    path("debts/<uuid:id>/adjustments/", views.AdjustmentCreateApi.as_view(), name="api_debt_adjustments"),
    path("debts/<uuid:id>/reversals/", views.ReversalCreateApi.as_view(), name="api_debt_reversals"),
    path("debts/<uuid:id>/payment-plans/", views.PlanApi.as_view(), name="api_debt_plans"),
    path("debts/<uuid:id>/promises/", views.PromiseApi.as_view(), name="api_debt_promises"),
    path("debts/<uuid:id>/settlement-offers/", views.OfferApi.as_view(), name="api_debt_offers"),
    path("debts/<uuid:id>/disputes/", views.DisputeApi.as_view(), name="api_debt_disputes"),
    path(
        "debts/<uuid:id>/disputes/<uuid:dispute_id>/resolve/",
        views.DisputeResolveApi.as_view(),
        name="api_debt_dispute_resolve",
    ),
    path("debts/<uuid:id>/notes/", views.NoteApi.as_view(), name="api_debt_notes"),
    path("debts/<uuid:id>/documents/", views.DocumentApi.as_view(), name="api_debt_documents"),
    path(
        "debts/<uuid:id>/documents/<uuid:document_id>/download/",
        views.DocumentDownloadApi.as_view(),
        name="api_debt_document_download",
    ),
    path(
        "debts/<uuid:id>/communications/", communications_api.CommunicationApi.as_view(), name="api_debt_communications"
    ),
    path("placements/", placements_api.PlacementCreateApi.as_view(), name="api_placements"),
    path("placements/<uuid:id>/", placements_api.PlacementDetailApi.as_view(), name="api_placement_detail"),
    path(
        "placements/<uuid:id>/rejects.csv", placements_api.PlacementRejectsApi.as_view(), name="api_placement_rejects"
    ),
    path("privacy-requests/", include("privacy_requests.urls_api")),
]
