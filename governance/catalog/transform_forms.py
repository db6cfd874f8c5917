"""The transform page's forms: one Django form per operation, built from the operation's parameter list
(transforms.PARAMS), so the page and the API docs list the same parameters. A form's cleaned data become the
operation's params; empty optional fields are left out so the operation's defaults apply."""

from __future__ import annotations

from typing import Any

from django import forms

from governance.catalog import transforms


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class _Pairs(forms.CharField):
    """`a:b, c:d` as {"a": "b", "c": "d"}."""

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        pairs = {}
        for part in _split(text):
            key, sep, val = part.partition(":")
            if not sep or not key.strip() or not val.strip():
                raise forms.ValidationError(f"Write pairs as name:value, separated by commas (not {part!r}).")
            pairs[key.strip()] = val.strip()
        return pairs


class _Numbers(forms.CharField):
    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        try:
            return [float(x) if "." in x or "e" in x.lower() else int(x) for x in _split(text)]
        except ValueError:
            raise forms.ValidationError("Write numbers separated by commas, e.g. 0.8, 0.1, 0.1.") from None


class _Values(forms.CharField):
    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        return _split(text) or None if text else None


def _field(param: transforms.Param, columns: list[str]) -> forms.Field:
    common: dict[str, Any] = {"required": param.required, "help_text": param.help, "label": param.name}
    column_choices = [(c, c) for c in columns]
    kind = param.kind
    if kind == "column":
        return forms.ChoiceField(choices=[("", "—"), *column_choices], **common)
    if kind == "columns":
        return forms.MultipleChoiceField(choices=column_choices, widget=forms.SelectMultiple, **common)
    if kind == "multichoice":
        return forms.MultipleChoiceField(choices=[(c, c) for c in param.choices], **common)
    if kind == "choice":
        return forms.ChoiceField(choices=[(c, c) for c in param.choices], initial=param.default, **common)
    if kind == "bool":
        return forms.BooleanField(initial=param.default, **common | {"required": False})
    if kind == "number":
        return forms.FloatField(initial=param.default, **common)
    if kind in ("integer", "version"):
        return forms.IntegerField(initial=param.default, **common)
    if kind == "column_map":
        return _Pairs(**common)
    if kind == "numbers":
        initial = ", ".join(str(x) for x in param.default) if param.default else None
        return _Numbers(initial=initial, **common)
    if kind == "values":
        return _Values(initial=", ".join(param.default) if param.default else None, **common)
    return forms.CharField(initial=param.default, **common)  # text, expression


def operation_form(operation: str, columns: list[str], data: Any = None) -> forms.Form:
    """The form of one operation for a version with these columns (bound to `data` when given)."""
    description, params = transforms.PARAMS[operation]
    fields: dict[str, forms.Field] = {}
    for param in params:
        fields[param.name] = _field(param, columns)
    fields["output_dataset"] = forms.CharField(
        required=False, label="output_dataset", help_text="Register the result in this dataset (created if new)."
    )
    form_class = type(f"{operation.title().replace('_', '')}Form", (forms.Form,), dict(fields))
    form = form_class(data, prefix=operation)
    form.operation = operation  # type: ignore[attr-defined]
    form.description = description  # type: ignore[attr-defined]
    form.example = transforms.OPERATIONS[operation][1]  # type: ignore[attr-defined]
    return form


def operation_forms(columns: list[str]) -> list[forms.Form]:
    return [operation_form(name, columns) for name in transforms.PARAMS]


def params_from(form: forms.Form) -> dict[str, Any]:
    """A valid form's cleaned data as the operation's params, without the fields left empty."""
    _, params = transforms.PARAMS[form.operation]  # type: ignore[attr-defined]
    kinds = {p.name: p.kind for p in params}
    out: dict[str, Any] = {}
    for name, value in form.cleaned_data.items():
        if value in (None, "", [], {}):
            continue
        if kinds.get(name) == "bool" or value is not False:
            out[name] = value
    return out
