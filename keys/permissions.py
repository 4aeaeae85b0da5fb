"""DRF permission of the admin plane: authenticated staff only."""

from rest_framework.permissions import BasePermission


class IsGatewayAdmin(BasePermission):
    message = "admin credentials required"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)
