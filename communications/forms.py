from __future__ import annotations

from django import forms

from communications.models import Channel


class CallForm(forms.Form):
    channel = forms.ChoiceField(
        choices=[
            (Channel.CALL, "Call"),
            (Channel.LETTER, "Letter"),
            (Channel.EMAIL, "Email (logged)"),
            (Channel.SMS, "SMS (logged)"),
        ],
        initial=Channel.CALL,
    )
    direction = forms.ChoiceField(choices=[("outbound", "Outbound"), ("inbound", "Inbound")])
    outcome = forms.ChoiceField(
        choices=[
            ("right_party", "Spoke to debtor"),
            ("no_answer", "No answer"),
            ("left_message", "Left message"),
            ("wrong_number", "Wrong number"),
            ("refused", "Refused to pay"),
            ("promise", "Promised to pay"),
        ]
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)
