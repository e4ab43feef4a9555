"""Team accounts in the admin.

There is no self sign-up: staff create accounts here. Staff in the "Team managers" group (made by
migration 0003) may add people, reset passwords and switch accounts off; only a superuser can hand
out staff or superuser rights, groups or permissions, or change a superuser.
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

    def _touches_a_superuser(self, request, obj) -> bool:
        return obj is not None and obj.is_superuser and not request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        if self._touches_a_superuser(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if self._touches_a_superuser(request, obj):
            return False
        return super().has_delete_permission(request, obj)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, TeamUserAdmin)
