"""Staff see who opted in and which alerts were sent; neither is edited by hand."""

from django.contrib import admin

from webui.alerts.models import Alert, Subscription


class ReadOnly(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnly):
    list_display = ("account", "email", "language", "active", "new_signin", "failed_signins", "mass_delete")
    exclude = ("token",)
    search_fields = ("account",)
    list_filter = ("active",)


@admin.register(Alert)
class AlertAdmin(ReadOnly):
    list_display = ("created_at", "account", "rule", "state", "ip", "sent_at")
    list_filter = ("state", "rule")
    search_fields = ("account",)
    date_hierarchy = None
