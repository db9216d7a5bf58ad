"""Errors every layer may raise and every layer may catch."""

from __future__ import annotations


class ActionRefused(Exception):
    """A rule refused what a person asked for; nothing was done.

    ``user_message`` says why, in words for the person who asked. Lower layers
    catch this base class (a page shows the message as a form error) without
    knowing which rule refused: a contact rule, a legal hold…"""

    def __init__(self, user_message: str):
        self.user_message = user_message
        super().__init__(user_message)
