"""OpenAPI description of the admin token, so Swagger UI's Authorize button can send it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AdminTokenScheme(OpenApiAuthenticationExtension):
    target_class = "keys.authentication.AdminTokenAuthentication"
    name = "adminToken"

    def get_security_definition(self, auto_schema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An admin token from `manage.py create_admin_token` (gat_…).",
        }
