"""Scoring endpoints: POST /api/v1/serving/{model}/rank/, /score/ and /batch-score/.

/rank and /score are the hot path: token lookups are cached per process (STEWARD_SERVING_AUTH_CACHE_S),
bodies are checked by hand (serving.handlers), and the only database access is the cached alias lookup.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.auth import CachedTokenAuthentication
from core.errors import NotFound, ServiceError
from core.parsers import JSONParser
from core.permissions import capability
from core.roles import has_capability
from core.serializers import JobSerializer
from serving import handlers, registry, selectors
from serving.services import batch_score_start


class CachedTokenScheme(KnoxTokenScheme):
    """The same `Authorization: Token <key>` header in the API docs (its own name, as its own class)."""

    target_class = CachedTokenAuthentication
    name = "servingTokenAuth"
    priority = 1


_UNKNOWN_BUCKET = (
    "Feature values are looked up in the vocabularies learned from the training split: a categorical "
    "value never seen in training (a new user id, a new item id, a new occupation) or a missing one "
    "falls into that feature's *unknown bucket* (id 0), which the model learned from rare and missing "
    "values, so it still gets a score. Numbers are standardized with the training mean and standard "
    "deviation; a missing number counts as the mean. Missing text is the empty string. Keys that are "
    "not features of the model are ignored."
)
_SELECT = [
    OpenApiParameter(
        "alias", OpenApiTypes.STR, description="Answer with the version this alias points to (default `production`)."
    ),
    OpenApiParameter("version", OpenApiTypes.INT, description="Answer with this version number instead of an alias."),
]
_ERRORS = {
    400: OpenApiResponse(
        description="A malformed body, a missing field or a value of the wrong type; the message names the field."
    ),
    404: OpenApiResponse(description="Unknown model, alias or version."),
    413: OpenApiResponse(description="More candidates (or pairs) than STEWARD_MAX_CANDIDATES (default 10,000)."),
}


class ModelVersionRef(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()


class RankRequest(serializers.Serializer):
    user = serializers.JSONField(
        required=False,
        help_text=(
            'The user (or request context): an object of feature values such as `{"user_id": 42, "age": 30}`, '
            "or the user id alone. Features not given come from the user table kept with the model version, when "
            "there is one, else they are missing."
        ),
    )
    candidates = serializers.ListField(
        child=serializers.JSONField(),
        help_text=(
            "Items to rank: item ids (`[12, 7, 301]`), whose features come from the item table kept with the model "
            'version, or objects with the item id and feature values (`{"item_id": 12, "genres": "Drama"}`) '
            "that override the stored ones. At most STEWARD_MAX_CANDIDATES."
        ),
    )
    k = serializers.IntegerField(required=False, min_value=1, help_text="Return the best k only (default: all).")


class RankedItem(serializers.Serializer):
    item_id = serializers.JSONField()
    score = serializers.FloatField(help_text="Predicted click probability.")


class RankResponse(serializers.Serializer):
    model_version = ModelVersionRef()
    items = RankedItem(many=True)


class ScorePair(serializers.Serializer):
    user = serializers.JSONField(required=False)
    item = serializers.JSONField()


class ScoreRequest(serializers.Serializer):
    pairs = ScorePair(many=True, help_text="User-item pairs; users and items are given as for /rank/.")


class ScoredPair(serializers.Serializer):
    user_id = serializers.JSONField(allow_null=True)
    item_id = serializers.JSONField()
    score = serializers.FloatField()


class ScoreResponse(serializers.Serializer):
    model_version = ModelVersionRef()
    results = ScoredPair(many=True)


class _ScoringView(APIView):
    authentication_classes = [CachedTokenAuthentication, SessionAuthentication]
    permission_classes = [capability("serving.score")]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    endpoint = ""

    def handle(self, request: Request, model_name: str, run: Any) -> Response:
        outcome = handlers.Outcome(model_name, self.endpoint)
        try:
            selector = handlers.parse_selector(request.query_params)
            body = run(
                model=model_name, selector=selector, data=request.data, actor_id=request.user.pk, outcome=outcome
            )
        except ServiceError as exc:
            outcome.done(status=exc.status_code, code=exc.code)
            raise
        except exceptions.APIException as exc:  # e.g. a body that is not JSON
            outcome.done(status=exc.status_code, code=str(exc.default_code))
            raise
        except Exception:
            outcome.done(status=500, code="error")
            raise
        outcome.done(status=200)
        return Response(body)


class RankView(_ScoringView):
    endpoint = "rank"

    @extend_schema(
        summary="Rank candidate items for a user",
        description="Scores every candidate with the model version the alias (default `production`) points to, "
        "and returns them best first, with the version that answered. Moving an alias takes effect "
        "within a few seconds; the previous version answers until the new one is loaded.\n\n" + _UNKNOWN_BUCKET,
        parameters=_SELECT,
        request=RankRequest,
        responses={200: RankResponse, **_ERRORS},
    )
    def post(self, request: Request, model_name: str) -> Response:
        return self.handle(request, model_name, handlers.rank)


class ScoreView(_ScoringView):
    endpoint = "score"

    @extend_schema(
        summary="Score user-item pairs",
        description="Click probabilities for user-item pairs, in request order.\n\n" + _UNKNOWN_BUCKET,
        parameters=_SELECT,
        request=ScoreRequest,
        responses={200: ScoreResponse, **_ERRORS},
    )
    def post(self, request: Request, model_name: str) -> Response:
        return self.handle(request, model_name, handlers.score)


class BatchScoreRequest(serializers.Serializer):
    dataset_version = serializers.IntegerField(help_text="The dataset version to score.")
    column = serializers.CharField(
        required=False,
        default="score",
        max_length=200,
        help_text="Name of the new column (default `score`); must not exist yet.",
    )


class BatchScoreView(APIView):
    permission_classes = [capability("serving.score")]

    @extend_schema(
        summary="Score a dataset version with a model version (a job)",
        description="Starts a job that scores every row of the dataset version with the selected model version "
        "and writes a new dataset version with the score column added. Its lineage edge from the "
        "scored version names the model version in its parameters. Rows need the model's item "
        "column; item features they lack come from the item table kept with the model version.\n\n" + _UNKNOWN_BUCKET,
        parameters=_SELECT,
        request=BatchScoreRequest,
        responses={202: JobSerializer, 400: _ERRORS[400], 404: _ERRORS[404]},
    )
    def post(self, request: Request, model_name: str) -> Response:
        if not has_capability(request.user, "catalog.write"):
            raise exceptions.PermissionDenied("Your role may not create dataset versions (catalog.write).")
        data = BatchScoreRequest(data=request.data)
        data.is_valid(raise_exception=True)
        selector = handlers.parse_selector(request.query_params)
        job = batch_score_start(
            actor=request.user,
            model_name=model_name,
            alias=selector.alias,
            version=selector.version,
            dataset_version_id=data.validated_data["dataset_version"],
            column=data.validated_data["column"],
        )
        return Response(JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class LatencyVersionSeries(serializers.Serializer):
    version = serializers.IntegerField()
    aliases = serializers.ListField(child=serializers.CharField(), help_text="Aliases pointing at this version now.")
    requests = serializers.ListField(child=serializers.IntegerField(), help_text="Requests per minute.")
    p50 = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="Median latency per minute (ms); null: no traffic."
    )
    p99 = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="99th percentile per minute (ms); null: no traffic."
    )


class LatencySeriesResponse(serializers.Serializer):
    model = serializers.CharField()
    window = serializers.ChoiceField(choices=list(selectors.WINDOWS))
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    aliases = serializers.DictField(child=serializers.IntegerField(), help_text="Each alias and its version now.")
    times = serializers.ListField(
        child=serializers.IntegerField(), help_text="The start of each minute of the window, in Unix seconds."
    )
    versions = LatencyVersionSeries(many=True, help_text="Newest version first; one value per entry of `times`.")


class LatencySeriesView(APIView):
    permission_classes = [capability("models.read")]

    @extend_schema(
        summary="Serving latency and request rate per minute, per model version",
        description="What the monitoring page charts: for each version that served the model in the window, its "
        "requests per minute and its p50 and p99 latency (ms, interpolated inside the serving histogram's "
        "buckets; null in a minute without traffic). `alias` or `version` keeps one version only.",
        parameters=[
            OpenApiParameter(
                "window", OpenApiTypes.STR, enum=list(selectors.WINDOWS), description="Time window (default `1h`)."
            ),
            OpenApiParameter(
                "alias", OpenApiTypes.STR, description="Only the version this alias points to (e.g. `production`)."
            ),
            OpenApiParameter("version", OpenApiTypes.INT, description="Only this version number."),
        ],
        responses={
            200: LatencySeriesResponse,
            400: OpenApiResponse(description="An unknown window, a malformed version or alias, or both given."),
            404: _ERRORS[404],
        },
    )
    def get(self, request: Request, model_name: str) -> Response:
        window = request.query_params.get("window", "1h")
        if window not in selectors.WINDOWS:
            raise ServiceError(f"window must be one of {', '.join(selectors.WINDOWS)}.", field="window")
        selector = handlers.parse_selector(request.query_params)
        if selector.alias is not None:
            only: set[int] | None = {registry.resolve_alias(model_name, selector.alias).version}
        elif selector.version is not None:
            only = {registry.resolve_version(model_name, selector.version).version}
        elif registry.model_exists(model_name):
            only = None
        else:
            raise NotFound(f"No model named {model_name!r}.")
        aliases = registry.alias_versions(model_name)
        data = selectors.latency_series(model_name, minutes=selectors.WINDOWS[window], versions=only)
        for entry in data["versions"]:
            entry["aliases"] = sorted(a for a, v in aliases.items() if v == entry["version"])
        body = {"model": model_name, "window": window, "aliases": aliases, **data}
        return Response(LatencySeriesResponse(body).data)
