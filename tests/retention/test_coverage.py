"""Everything that holds personal data has a rule: every model the personal-data
registry declares is purged by some registered retention store, or listed as an
outside store saying how it goes (kernel.retention, ADR 0017)."""

from __future__ import annotations

from django.apps import apps

from kernel.privacy.registry import declarations
from kernel.retention import categories, outside_stores, stores


def _covered() -> set[str]:
    covered = {label for store in stores() for label in store.models}
    return covered | {label for outside in outside_stores() for label in outside.models}


def test_every_declared_model_has_a_retention_store() -> None:
    declared = {decl.model._meta.label_lower for decl in declarations()}
    missing = sorted(declared - _covered())
    assert missing == [], f"personal data without a retention store: {missing}"


def test_stores_name_only_real_models() -> None:
    for label in sorted(_covered()):
        app_label, model_name = label.split(".")
        assert apps.get_model(app_label, model_name) is not None, label


def test_every_category_has_a_period_and_a_source() -> None:
    rules = {s.rule.name: s.rule for s in stores()} | {o.rule.name: o.rule for o in outside_stores()}
    assert sorted(rules) == categories()
    for name, rule in rules.items():
        assert rule.days > 0 and rule.trigger and rule.source, name
    for store in stores():
        assert store.label and store.covers and store.when, store.name
    for outside in outside_stores():
        assert outside.label and outside.covers and outside.how, outside.name
