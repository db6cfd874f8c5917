"""One form per rule kind for the rules page: each turns its fields into the rule's columns and params, which the
service then checks as it does for the API."""

from __future__ import annotations

from typing import Any

from django import forms

from governance.catalog.models import DatasetVersion
from governance.quality.models import QualityRule


class RuleForm(forms.Form):
    kind: str = ""
    one_column = True
    severity = forms.ChoiceField(choices=QualityRule.Severity.choices, initial=QualityRule.Severity.BLOCKING)

    def __init__(self, *args: Any, columns: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        """`columns`: (name, dtype) of the dataset's latest version."""
        super().__init__(*args, **kwargs)
        self.dtypes = dict(columns or [])
        choices = [(name, f"{name} ({dtype})") for name, dtype in (columns or [])]
        if "column" in self.fields:
            self.fields["column"].choices = choices
        if "columns" in self.fields:
            self.fields["columns"].choices = choices
        self.order_fields(["column", "columns"])

    def rule_columns(self) -> list[str]:
        data = self.cleaned_data
        if "columns" in data:
            return list(data["columns"])
        return [data["column"]] if data.get("column") else []

    def rule_params(self) -> dict[str, Any]:
        return {}

    @classmethod
    def initial_for(cls, rule: QualityRule) -> dict[str, Any]:
        initial: dict[str, Any] = {"severity": rule.severity, **rule.params}
        if rule.columns:
            initial["column"] = rule.columns[0]
            initial["columns"] = rule.columns
        return initial


def _column() -> forms.ChoiceField:
    return forms.ChoiceField(choices=[])


class NotNullForm(RuleForm):
    kind = "not_null"
    column = _column()


class UniqueForm(RuleForm):
    kind = "unique"
    columns = forms.MultipleChoiceField(choices=[], help_text="one column, or several whose combination is unique")


class RangeForm(RuleForm):
    kind = "range"
    column = _column()
    min = forms.FloatField(required=False)
    max = forms.FloatField(required=False)
    min_inclusive = forms.BooleanField(required=False, initial=True)
    max_inclusive = forms.BooleanField(required=False, initial=True)

    def rule_params(self) -> dict[str, Any]:
        d = self.cleaned_data
        out = {k: _whole(d[k]) for k in ("min", "max") if d.get(k) is not None}
        return out | {"min_inclusive": d["min_inclusive"], "max_inclusive": d["max_inclusive"]}


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


class RegexForm(RuleForm):
    kind = "regex"
    column = _column()
    pattern = forms.CharField(max_length=1000)
    full_match = forms.BooleanField(required=False, initial=True, help_text="the whole value must match")

    def rule_params(self) -> dict[str, Any]:
        return {"pattern": self.cleaned_data["pattern"], "full_match": self.cleaned_data["full_match"]}


class AllowedValuesForm(RuleForm):
    kind = "allowed_values"
    column = _column()
    values = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), help_text="one value per line")

    def rule_params(self) -> dict[str, Any]:
        dtype = self.dtypes.get(self.cleaned_data.get("column") or "", "")
        values: list[Any] = []
        for line in self.cleaned_data["values"].splitlines():
            text = line.strip()
            if not text:
                continue
            if dtype.startswith(("int", "uint")) and text.lstrip("-").isdigit():
                values.append(int(text))
            elif dtype.startswith(("float", "double")):
                try:
                    values.append(float(text))
                except ValueError:
                    values.append(text)
            elif dtype == "bool" and text.lower() in ("true", "false"):
                values.append(text.lower() == "true")
            else:
                values.append(text)
        return {"values": values}

    @classmethod
    def initial_for(cls, rule: QualityRule) -> dict[str, Any]:
        values = rule.params.get("values", [])
        return super().initial_for(rule) | {"values": "\n".join(map(str, values))}


class RowCountForm(RuleForm):
    kind = "row_count_between"
    min = forms.IntegerField(required=False, min_value=0)
    max = forms.IntegerField(required=False, min_value=0)

    def rule_params(self) -> dict[str, Any]:
        return {k: self.cleaned_data[k] for k in ("min", "max") if self.cleaned_data.get(k) is not None}


class MaxNullFractionForm(RuleForm):
    kind = "max_null_fraction"
    column = _column()
    max_fraction = forms.FloatField(min_value=0, max_value=1, initial=0.05)

    def rule_params(self) -> dict[str, Any]:
        return {"max_fraction": self.cleaned_data["max_fraction"]}


class FreshnessForm(RuleForm):
    kind = "freshness"
    column = _column()
    max_age_days = forms.FloatField(initial=7, help_text="newest timestamp at most this many days before the version")
    unit = forms.ChoiceField(choices=[("s", "seconds"), ("ms", "milliseconds")], initial="s", required=False)

    def rule_params(self) -> dict[str, Any]:
        return {"max_age_days": _whole(self.cleaned_data["max_age_days"]), "unit": self.cleaned_data["unit"] or "s"}


class DistributionShiftForm(RuleForm):
    kind = "distribution_shift"
    column = _column()
    threshold = forms.FloatField(initial=0.2, help_text="largest PSI against the previous version that passes")
    bins = forms.IntegerField(initial=10, min_value=2, max_value=100)

    def rule_params(self) -> dict[str, Any]:
        return {"threshold": self.cleaned_data["threshold"], "bins": self.cleaned_data["bins"]}


class ReferencesForm(RuleForm):
    kind = "references"
    column = _column()
    dataset_version = forms.TypedChoiceField(choices=[], coerce=int, help_text="the version whose keys must exist")
    ref_column = forms.CharField(label="Key column there", max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        versions = DatasetVersion.objects.select_related("dataset").order_by("dataset__name", "-number")[:500]
        self.fields["dataset_version"].choices = [(v.pk, str(v)) for v in versions]

    def rule_params(self) -> dict[str, Any]:
        return {"dataset_version": self.cleaned_data["dataset_version"], "column": self.cleaned_data["ref_column"]}

    @classmethod
    def initial_for(cls, rule: QualityRule) -> dict[str, Any]:
        return super().initial_for(rule) | {"ref_column": rule.params.get("column")}


FORMS: dict[str, type[RuleForm]] = {
    f.kind: f
    for f in (
        NotNullForm,
        UniqueForm,
        RangeForm,
        RegexForm,
        AllowedValuesForm,
        RowCountForm,
        MaxNullFractionForm,
        FreshnessForm,
        DistributionShiftForm,
        ReferencesForm,
    )
}
