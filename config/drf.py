"""DRF defaults of our own (REST_FRAMEWORK settings): OPTIONS that never fail, and pagination
that refuses junk. Kept apart from config.api, which DRF's settings import early."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.metadata import SimpleMetadata
from rest_framework.pagination import LimitOffsetPagination


class ApiMetadata(SimpleMetadata):
    """OPTIONS: name, description, media types and, where a view has one serializer, its
    fields. Views that validate by hand (several serializers per method) simply list no
    actions, instead of failing on a missing `serializer_class`."""

    def determine_actions(self, request, view):
        try:
            return super().determine_actions(request, view)
        except (AssertionError, AttributeError, TypeError):
            return {}


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """limit/offset pagination that refuses junk (`offset=abc`, `limit=-1`) with a 400 instead
    of silently reading it as the default."""

    max_limit = 1000  # a bigger `limit` is read as 1000
    MAX_OFFSET = 10**12  # beyond any real list; larger numbers overflow database integers

    def _strict(self, request, name: str, *, minimum: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or value < minimum or value > self.MAX_OFFSET:
            raise exceptions.ValidationError(
                {name: [f"Must be a whole number from {minimum} to {self.MAX_OFFSET}."]}
            )
        return value

    def get_limit(self, request):
        self._strict(request, self.limit_query_param, minimum=1)
        return super().get_limit(request)

    def get_offset(self, request):
        value = self._strict(request, self.offset_query_param, minimum=0)
        return value or 0
