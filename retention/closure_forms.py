"""The form an owner fills in to close a workspace (the rules are in closure.py)."""

from __future__ import annotations

from django import forms

from retention.closure import CLOSURE_REASONS


class WorkspaceCloseForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[("", "— choose —"), *CLOSURE_REASONS.items()], label="Why are you closing the workspace?"
    )
    confirm_slug = forms.CharField(
        max_length=50,
        label="Type the workspace's address name to confirm",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
    )
