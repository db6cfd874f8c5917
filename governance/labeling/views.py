"""Pages: projects, a project's settings and jobs, the annotator page, quality figures, the review queue."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from core import charts
from core.errors import ServiceError
from core.models import Job
from core.permissions import CapabilityRequiredMixin
from core.roles import has_capability
from governance.catalog.models import DatasetVersion
from governance.labeling import selectors, services
from governance.labeling.models import Project, Task, Webhook
from governance.labeling.rows import row_for


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    dataset_version = forms.IntegerField(min_value=1, help_text="id of the dataset version to label")
    template = forms.ChoiceField(choices=Project.Template.choices)
    labels = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="one label per line, optionally 'name: description' (relevance templates have defaults)",
    )
    display_columns = forms.CharField(help_text="columns annotators see, comma-separated")
    overlap = forms.IntegerField(min_value=1, max_value=services.MAX_OVERLAP, initial=1)
    gold_rate = forms.FloatField(min_value=0, max_value=0.5, initial=0.0, required=False)
    review_threshold = forms.FloatField(min_value=0, max_value=1, initial=1.0, required=False)
    model_version = forms.IntegerField(required=False, help_text="optional: a model version id for pre-labels")

    def labels_value(self) -> list[dict[str, str]] | None:
        lines = [line.strip() for line in self.cleaned_data["labels"].splitlines() if line.strip()]
        out = []
        for line in lines:
            name, _, description = line.partition(":")
            out.append({"name": name.strip(), "description": description.strip()})
        return out or None


class TasksForm(forms.Form):
    strategy = forms.ChoiceField(choices=[(s, s) for s in services.STRATEGIES])
    count = forms.IntegerField(min_value=1, max_value=services.MAX_TASKS_PER_JOB, initial=100)
    column = forms.CharField(required=False, help_text="stratified: the column")
    model_version = forms.IntegerField(required=False, help_text="uncertainty: the model version")


class WebhookForm(forms.Form):
    url = forms.URLField(max_length=500)


def gold_form_class(project: Project) -> type[forms.Form]:
    """A gold task: a row position and its known answer, chosen from the project's labels (several for tags)."""
    choices = [(name, name) for name in project.label_names]
    last = max(0, project.dataset_version.row_count - 1)
    label: forms.Field = (
        forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, required=False)
        if project.multi
        else forms.ChoiceField(choices=choices)
    )
    fields = {
        "row": forms.IntegerField(min_value=0, max_value=last, help_text=f"row position, 0..{last}"),
        "label": label,
    }
    return type("GoldForm", (forms.Form,), fields)


class GoldRateForm(forms.Form):
    gold_rate = forms.FloatField(min_value=0, max_value=0.5, help_text="share of served tasks that are gold (0-0.5)")


class AnnotatorsForm(forms.Form):
    annotators = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="who may work on this project; none ticked: every annotator",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["annotators"].choices = [(u.username, u.username) for u in selectors.annotator_candidates()]


def _form_errors(form: forms.Form) -> str:
    return "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())


def _project(pk: int) -> Project:
    return get_object_or_404(Project.objects.select_related("dataset_version__dataset"), pk=pk)


class ProjectListPage(CapabilityRequiredMixin, View):
    required_capability = "labeling.annotate"

    def _render(self, request: HttpRequest, form: ProjectForm, status: int = 200) -> HttpResponse:
        versions = DatasetVersion.objects.select_related("dataset").order_by("-created_at")[:50]
        return render(
            request,
            "labeling/projects.html",
            {"projects": selectors.project_list(request.user), "form": form, "versions": versions},
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, ProjectForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        if not has_capability(request.user, "labeling.manage"):
            return HttpResponse("Your role may not create labeling projects.", status=403)
        form = ProjectForm(request.POST)
        if form.is_valid():
            version = DatasetVersion.objects.filter(pk=form.cleaned_data["dataset_version"]).first()
            if version is None:
                form.add_error("dataset_version", "No dataset version has this id.")
            else:
                try:
                    project = services.project_create(
                        actor=request.user,
                        name=form.cleaned_data["name"],
                        dataset_version=version,
                        template=form.cleaned_data["template"],
                        labels=form.labels_value(),
                        display_columns=[
                            c.strip() for c in form.cleaned_data["display_columns"].split(",") if c.strip()
                        ],
                        overlap=form.cleaned_data["overlap"],
                        gold_rate=form.cleaned_data["gold_rate"] or 0.0,
                        review_threshold=1.0
                        if form.cleaned_data["review_threshold"] is None
                        else form.cleaned_data["review_threshold"],
                        model_version=form.cleaned_data["model_version"],
                    )
                    return redirect("labeling-project", pk=project.pk)
                except ServiceError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return self._render(request, form, status=400)


class ProjectPage(CapabilityRequiredMixin, View):
    required_capability = "labeling.manage"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        project = _project(pk)
        webhook = Webhook.objects.filter(project=project).first()
        return render(
            request,
            "labeling/project.html",
            {
                "project": project,
                "counts": selectors.task_counts(project),
                "tasks_form": TasksForm(),
                "webhook": webhook,
                "webhook_form": WebhookForm(initial={"url": webhook.url if webhook else ""}),
                "deliveries": webhook.deliveries.prefetch_related("attempt_log")[:20] if webhook else [],
                "jobs": Job.objects.filter(subject_type="labeling_project", subject_id=project.pk)[:10],
                "secret": request.session.pop(f"labeling-webhook-secret-{project.pk}", None),
                "gold_form": gold_form_class(project)(),
                "gold_rate_form": GoldRateForm(initial={"gold_rate": project.gold_rate}),
                "gold": selectors.gold_summary(project),
                "annotators_form": AnnotatorsForm(
                    initial={"annotators": list(project.annotators.values_list("username", flat=True))}
                ),
            },
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        project = _project(pk)
        action = request.POST.get("action")
        try:
            if action == "tasks":
                form = TasksForm(request.POST)
                if not form.is_valid():
                    raise ServiceError(_form_errors(form))
                options = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
                job = services.tasks_create_start(actor=request.user, project=project, **options)
                return redirect("job", pk=job.pk)
            if action == "export":
                job = services.export_start(actor=request.user, project=project)
                return redirect("job", pk=job.pk)
            if action == "webhook":
                form = WebhookForm(request.POST)
                if not form.is_valid():
                    raise ServiceError("The webhook needs an http(s) URL.")
                _, secret = services.webhook_set(actor=request.user, project=project, url=form.cleaned_data["url"])
                # Shown once on the next page view, then gone from the session.
                request.session[f"labeling-webhook-secret-{project.pk}"] = secret
                messages.success(request, "Webhook saved: copy its secret now, it is not shown again.")
            elif action == "gold":
                form = gold_form_class(project)(request.POST)
                if not form.is_valid():
                    raise ServiceError(_form_errors(form))
                row, label = form.cleaned_data["row"], form.cleaned_data["label"]
                services.gold_tasks_create(actor=request.user, project=project, items=[{"row": row, "label": label}])
                messages.success(request, f"Row {row} is a gold task with the answer {label}.")
            elif action == "gold_rate":
                form = GoldRateForm(request.POST)
                if not form.is_valid():
                    raise ServiceError(_form_errors(form))
                services.project_update(actor=request.user, project=project, gold_rate=form.cleaned_data["gold_rate"])
                messages.success(request, f"Gold rate set to {form.cleaned_data['gold_rate']}.")
            elif action == "annotators":
                form = AnnotatorsForm(request.POST)
                if not form.is_valid():
                    raise ServiceError(_form_errors(form))
                names = form.cleaned_data["annotators"]
                services.project_update(actor=request.user, project=project, annotators=names)
                messages.success(
                    request, f"Annotators: {', '.join(names)}." if names else "Every annotator may work on it."
                )
            else:
                raise ServiceError("Unknown action.")
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("labeling-project", pk=project.pk)


class AnnotatePage(CapabilityRequiredMixin, View):
    required_capability = "labeling.annotate"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        project = _project(pk)
        try:
            services.annotator_check(project, request.user)
        except ServiceError as exc:
            return HttpResponse(exc.message, status=403)
        keys = "0-3" if project.ordinal else f"1-{min(9, len(project.labels))}"
        return render(request, "labeling/annotate.html", {"project": project, "keys": keys})


class QualityPage(CapabilityRequiredMixin, View):
    required_capability = "labeling.manage"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        project = _project(pk)
        figures = selectors.project_agreement(project)
        confusion = figures["confusion"]
        return render(
            request,
            "labeling/quality.html",
            {
                "project": project,
                "figures": figures,
                "pairs": [
                    (pair, figures["cohen_kappa"].get(pair, {"kappa": None, "n": 0}), every)
                    for pair, every in sorted(figures["with_accepted_suggestions"]["cohen_kappa"].items())
                ],
                "heatmap": charts.heatmap_chart(
                    confusion["labels"],
                    confusion["matrix"],
                    title="confusion matrix",
                    row_title="final label",
                    column_title="annotator's label",
                ),
            },
        )


class ReviewPage(CapabilityRequiredMixin, View):
    required_capability = "labeling.manage"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        project = _project(pk)
        items = []
        for task in selectors.review_queue(project)[:50]:
            data, _masked = row_for(project.dataset_version, task.row, project.display_columns, request.user)
            items.append({"task": task, "data": data, "annotations": selectors.task_annotations(task)})
        return render(request, "labeling/review.html", {"project": project, "items": items})


class ReviewDecidePage(CapabilityRequiredMixin, View):
    required_capability = "labeling.manage"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        task = get_object_or_404(Task.objects.select_related("project"), pk=pk)
        label: Any = request.POST.getlist("label") if task.project.multi else request.POST.get("label", "")
        try:
            services.task_review(task=task, reviewer=request.user, label=label, note=request.POST.get("note", ""))
            messages.success(request, f"Task {task.pk}: final label {label}.")
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("labeling-review", pk=task.project_id)
