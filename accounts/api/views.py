from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from accounts.selectors import plan_for_user


class PlanOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    monthly_characters = serializers.IntegerField()
    voice_slots = serializers.IntegerField()
    concurrent_jobs = serializers.IntegerField()
    max_upload_mb = serializers.IntegerField()
    retention_days = serializers.IntegerField()
    storage_mb = serializers.IntegerField()


class MeOutput(serializers.Serializer):
    id = serializers.UUIDField(source="code")
    email = serializers.EmailField()
    display_name = serializers.CharField()
    date_joined = serializers.DateTimeField()
    plan = PlanOutput()


@extend_schema(responses=MeOutput, summary="The signed-in user and their plan")
@api_view(["GET"])
def me(request):
    user = request.user
    user.plan = plan_for_user(user)
    return Response(MeOutput(user).data)
