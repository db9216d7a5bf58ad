from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from placements.import_header import clean_header_map, parse_header_map


class PlacementUploadForm(forms.Form):
    file = forms.FileField(label="Placement file (CSV)")
    client = forms.ChoiceField(required=False, label="Client for rows without client_ref")
    strict = forms.BooleanField(required=False, label="Strict: import nothing if any row is invalid")
    header_map = forms.CharField(
        required=False,
        label="Other column names (optional)",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "external_ref=Customer No\namount=Balance"}),
        help_text="If your file names columns differently: one per line, our column = your column.",
    )

    def clean_header_map(self) -> dict[str, str]:
        try:
            return clean_header_map(parse_header_map(self.cleaned_data.get("header_map"), one_per_line=True))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict.get("header_map", exc.messages)) from None
