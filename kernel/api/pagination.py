from rest_framework.pagination import CursorPagination as _CursorPagination


class CursorPagination(_CursorPagination):
    """Cursor pagination: stable under inserts and no COUNT(*) on big tables.
    Ordered by the time-ordered UUID primary key unless a view says otherwise."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
