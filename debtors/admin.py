from django.contrib import admin

from collectpro.admin_base import TenantAdmin
from debtors.models import Client


@admin.register(Client)
class ClientAdmin(TenantAdmin):
    list_display = ("name", "reference", "commission_rate_bps", "workspace", "created_at")
    search_fields = ("name", "reference")
    readonly_fields = ("workspace", "created_at")
