"""Team accounts in the admin.

There is no self sign-up: staff create accounts here. Staff in the "Team managers" group (made by
migration 0003) may add people, reset their passwords and switch their accounts off; only a
superuser can hand out staff or superuser rights, groups or permissions, or change, reset the
password of, or delete a staff or superuser account (otherwise a team manager could reset another
administrator's password and sign in as them).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

User = get_user_model()
SUPERUSER_ONLY_FIELDS = ["is_staff", "is_superuser", "groups", "user_permissions"]


class TeamUserAdmin(DjangoUserAdmin):
    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [*SUPERUSER_ONLY_FIELDS, "last_login", "date_joined"]
        return fields

    def _protected_from(self, request, obj) -> bool:
        """A staff or superuser account, looked at by someone who is not a superuser."""
        if request.user.is_superuser or obj is None:
            return False
        return obj.is_staff or obj.is_superuser

    # Django's password-change view and the bulk "delete selected" action both ask these two
    # with the account in question, so one rule covers the form, the password and the list.
    def has_change_permission(self, request, obj=None) -> bool:
        if self._protected_from(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if self._protected_from(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        # Belt and braces under the action's own per-object check: never a staff account.
        if not request.user.is_superuser:
            queryset = queryset.filter(is_staff=False, is_superuser=False)
        super().delete_queryset(request, queryset)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, TeamUserAdmin)
