from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import audit_views
from accounts import views as account_views
from accounts.api_base import WorkspaceApi
from collectpro import privacy_views
from communications import api as communications_api
from communications import delivery_views as comms_delivery
from communications import ui_debt as comms_debt
from communications import ui_views as comms_ui
from consent import api as consent_api
from consent import public_views as consent_public
from consent import views as consent_views
from consent import workspace_views as consent_workspace
from debtors import views as debtor_views
from payments import pages as payment_pages
from payments import views as payment_views
from payments.api import PaymentLinkCreateApi, RemittanceApi
from payments.webhooks import stripe_webhook
from placements import views as placement_views
from reporting import views as dashboard_views


def healthz(request: HttpRequest) -> JsonResponse:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


# Everything under /w/<workspace_slug>/ is one workspace's UI. The tenancy middleware
# resolves the workspace and membership before these views run.
workspace_patterns: list[URLPattern | URLResolver] = [
    path("", dashboard_views.dashboard, name="dashboard"),
    path("portal/", dashboard_views.client_portal, name="client_portal"),
    path("portal/statement.csv", dashboard_views.client_statement, name="client_statement"),
    path("members/", account_views.members, name="members"),
    path("members/<uuid:member_id>/role/", account_views.member_role, name="member_role"),
    path("members/<uuid:member_id>/remove/", account_views.member_remove, name="member_remove"),
    path("invitations/<uuid:invitation_id>/revoke/", account_views.invitation_revoke, name="invitation_revoke"),
    path("api-keys/", account_views.api_keys, name="api_keys"),
    path("api-keys/<uuid:api_key_id>/revoke/", account_views.api_key_revoke, name="api_key_revoke"),
    path("settings/", account_views.workspace_settings, name="workspace_settings"),
    path("closure/", include("retention.urls_closure")),
    path("audit/", audit_views.audit_log, name="audit_log"),
    path("audit/export.csv", audit_views.audit_export, name="audit_export"),
    path("privacy/processing/", privacy_views.record_of_processing, name="record_of_processing"),
    path("debts/", debtor_views.debt_queue, name="debt_queue"),
    path("debts/export.csv", debtor_views.queue_export, name="debt_queue_export"),
    path("debts/bulk-assign/", debtor_views.bulk_assign, name="debt_bulk_assign"),
    path("debts/saved-views/", debtor_views.saved_view_create, name="saved_view_create"),
    path("debts/<uuid:debt_id>/", debtor_views.debt_detail, name="debt_detail"),
    path("debts/<uuid:debt_id>/reveal/", debtor_views.debtor_reveal, name="debtor_reveal"),
    path("debts/<uuid:debt_id>/assign/", debtor_views.debt_assign, name="debt_assign"),
    path("debts/<uuid:debt_id>/minor-review/", debtor_views.debtor_minor_review, name="debtor_minor_review"),
    path("debts/<uuid:debt_id>/plan-preview/", debtor_views.plan_preview, name="plan_preview"),
    path("debts/<uuid:debt_id>/documents/", debtor_views.document_upload, name="document_upload"),
    path(
        "debts/<uuid:debt_id>/documents/<uuid:document_id>/", debtor_views.document_download, name="document_download"
    ),
    path("debts/<uuid:debt_id>/actions/<slug:action>/", debtor_views.debt_action, name="debt_action"),
    path("debtors/<uuid:debtor_id>/consent-proof.csv", consent_workspace.consent_proof_export, name="consent_proof"),
    path("settings/contact-rules/", consent_workspace.contact_rules_settings, name="contact_rules"),
    path("placements/", placement_views.placements, name="placements"),
    path("placements/<uuid:import_id>/", placement_views.placement_detail, name="placement_detail"),
    path("placements/<uuid:import_id>/rejects.csv", placement_views.placement_rejects, name="placement_rejects"),
    path("debts/<uuid:debt_id>/payment-links/", payment_pages.payment_link_create_view, name="payment_link_create"),
    path(
        "debts/<uuid:debt_id>/payment-links/<uuid:link_id>/show/",
        payment_pages.payment_link_show,
        name="payment_link_show",
    ),
    path(
        "debts/<uuid:debt_id>/payment-links/<uuid:link_id>/revoke/",
        payment_pages.payment_link_revoke_view,
        name="payment_link_revoke",
    ),
    path(
        "debts/<uuid:debt_id>/payment-links/<uuid:link_id>/qr.svg",
        payment_pages.payment_link_qr,
        name="payment_link_qr",
    ),
    path(
        "debts/<uuid:debt_id>/payment-links/<uuid:link_id>/send/",
        payment_pages.payment_link_send,
        name="payment_link_send",
    ),
    path("payments/reconciliation/", payment_pages.reconciliation_page, name="reconciliation"),
    path(
        "payments/reconciliation/exceptions/<uuid:exception_id>/resolve/",
        payment_pages.reconciliation_exception_resolve_view,
        name="reconciliation_exception_resolve",
    ),
    path("payments/remittance/", payment_pages.remittance_page, name="remittance"),
    path("payments/remittance.csv", payment_pages.remittance_csv, name="remittance_csv"),
    path("communications/templates/", comms_ui.template_list, name="comms_templates"),
    path("communications/templates/preview/", comms_ui.template_preview, name="comms_template_preview"),
    path("communications/templates/<uuid:template_id>/", comms_ui.template_detail, name="comms_template_detail"),
    path("communications/sequences/", comms_ui.sequence_list, name="comms_sequences"),
    path("communications/problems/", comms_delivery.delivery_problems, name="comms_problems"),
    path("communications/sequences/<uuid:sequence_id>/", comms_ui.sequence_detail, name="comms_sequence_detail"),
    path("debts/<uuid:debt_id>/consent/", comms_debt.debt_consent_change, name="debt_consent_change"),
    path("debts/<uuid:debt_id>/consent/send/", comms_debt.debt_message_send, name="debt_message_send"),
    path("debts/<uuid:debt_id>/consent/disclosures/", comms_debt.debt_disclosure_record, name="debt_disclosure_record"),
    path("debts/<uuid:debt_id>/sequences/", comms_debt.debt_sequence_enrol, name="debt_sequence_enrol"),
    path(
        "debts/<uuid:debt_id>/sequences/<uuid:enrolment_id>/pause/",
        comms_debt.debt_sequence_pause,
        name="debt_sequence_pause",
    ),
]

api_patterns: list[URLPattern | URLResolver] = [
    path("workspace/", WorkspaceApi.as_view(), name="api_workspace"),
    path("", include("collectpro.api_urls")),
    path("payment-links/", PaymentLinkCreateApi.as_view(), name="api_payment_links"),
    path("remittance/", RemittanceApi.as_view(), name="api_remittance"),
    path("debtors/<uuid:id>/consent/", consent_api.DebtorConsentApi.as_view(), name="api_debtor_consent"),
    path("debts/<uuid:id>/contact-check/", consent_api.ContactCheckApi.as_view(), name="api_debt_contact_check"),
    path("debts/<uuid:id>/sequences/", communications_api.DebtSequencesApi.as_view(), name="api_debt_sequences"),
]

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz/", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/security/", account_views.security, name="security"),
    path("mfa-required/<slug:slug>/", account_views.mfa_required, name="mfa_required"),
    path("invitations/<str:token>/", account_views.invitation_accept, name="invitation_accept"),
    path("w/<slug:workspace_slug>/", include(workspace_patterns)),
    path("w/<slug:workspace_slug>/privacy/", include("privacy_requests.urls_desk")),
    path("w/<slug:workspace_slug>/retention/", include("retention.urls")),
    path("w/<slug:workspace_slug>/incidents/", include("incidents.urls")),
    path("privacy/<slug:workspace_slug>/", include("privacy_requests.urls_public")),
    path("privacy/<slug:workspace_slug>/", include("privacy_requests.urls_downloads")),
    path("account/privacy/", include("privacy_requests.urls_account")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("pay/sandbox/<str:session_id>/", payment_views.sandbox_checkout, name="sandbox_checkout"),
    path("pay/<str:token>/", payment_views.pay_link, name="pay_link"),
    path("pay/<str:token>/verify/", payment_views.pay_verify, name="pay_verify"),
    path("pay/<str:token>/checkout/", payment_views.pay_checkout, name="pay_checkout"),
    path("pay/<str:token>/done/", payment_views.pay_done, name="pay_done"),
    path("pay/<str:token>/dispute/", payment_views.pay_dispute, name="pay_dispute"),
    path("pay/<str:token>/preferences/", payment_views.pay_preferences, name="pay_preferences"),
    path("pay/<str:token>/privacy/", payment_views.pay_privacy, name="pay_privacy"),
    path("pay/<str:token>/consent-proof.csv", payment_views.pay_consent_proof, name="pay_consent_proof"),
    path("webhooks/stripe/", stripe_webhook, name="stripe_webhook"),
    # Delivery/bounce webhooks exist only with a shared secret: anyone could post them otherwise.
    *([path("webhooks/anymail/", include("anymail.urls"))] if settings.ANYMAIL.get("WEBHOOK_SECRET") else []),
    path("optout/<str:token>/", consent_views.opt_out, name="opt_out"),
    path("legal/cookies/", consent_public.cookies_page, name="cookies_page"),
    path("legal/sub-processors/", consent_public.sub_processors_page, name="sub_processors"),
    path("legal/accept/", consent_public.policy_accept, name="policy_accept"),
    path("legal/<slug:kind>/", consent_public.policy_page, name="policy_page"),
    path("cookies/consent/", consent_public.cookie_choice, name="cookie_choice"),
    path("api/v1/", include(api_patterns)),
    path(
        "api/schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="api_schema"
    ),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="api_schema", authentication_classes=[], permission_classes=[]),
        name="api_docs",
    ),
]
