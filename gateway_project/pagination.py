"""Pagination of admin API lists: `?limit=` (default 10) is clamped to MAX_PAGE_SIZE."""

from rest_framework.pagination import LimitOffsetPagination

MAX_PAGE_SIZE = 500


class AdminPagination(LimitOffsetPagination):
    default_limit = 10
    max_limit = MAX_PAGE_SIZE
    limit_query_description = (
        f"Results per page (default 10). Larger values are served as {MAX_PAGE_SIZE}."
    )
