"""System checks: personal data must be declared; encryption keys must load."""

from __future__ import annotations

import re
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from kernel.crypto.fields import EncryptedField
from kernel.crypto.keys import KeyProvider, parse_key_list, parse_single_key
from kernel.privacy.registry import declaration_for, not_personal_for

PROJECT_APPS = {
    "accounts",
    "audit",
    "debtors",
    "payments",
    "consent",
    "communications",
    "placements",
    "reporting",
    "privacy_requests",
    "retention",
    "incidents",
    "collectpro",
}

# Field names that usually hold personal data. A false positive is silenced with
# declare_not_personal(Model, field="reason") — an explicit, reviewable statement.
LOOKS_PERSONAL = re.compile(
    r"(^|_)(e?mail|phone|mobile|msisdn|full_name|first_name|last_name|surname|name|address|street|postcode|"
    r"postal|zip|city|birth|dob|national|passport|ssn|tax_id|pan|aadhaar|iban|account_number|bank|"
    r"ip|ip_address|user_agent|note|notes|body|message|gender|income|salary|signature)($|_)"
)


def _models(app_configs: Any) -> list[Any]:
    # Like Django's own model checks: only the given apps when the framework names them.
    if app_configs is None:
        return list(apps.get_models())
    return [model for app_config in app_configs for model in app_config.get_models()]


@checks.register(checks.Tags.models)
def check_personal_data_declared(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for model in _models(app_configs):
        if model._meta.app_label not in PROJECT_APPS:
            continue
        decl = declaration_for(model)
        declared = set(decl.fields) if decl else set()
        exempt = not_personal_for(model)
        concrete = {f.name: f for f in model._meta.concrete_fields}
        for name in declared - set(concrete):
            errors.append(
                checks.Error(
                    f"{model._meta.label}: the personal-data registry declares '{name}', which is not a field.",
                    obj=model,
                    id="collectpro.E002",
                )
            )
        for name, f in concrete.items():
            if name in declared or name in exempt or f.is_relation or name.endswith("_bidx"):
                continue
            if isinstance(f, EncryptedField) or LOOKS_PERSONAL.search(name):
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{name} looks like personal data but has no declaration "
                        f"in the personal-data registry.",
                        hint="Add it to the model's @personal_data(fields=…) or, if it is not personal, "
                        "declare_not_personal(Model, field='why').",
                        obj=model,
                        id="collectpro.E001",
                    )
                )
        if decl:
            for name, pd in decl.fields.items():
                declared_field = concrete.get(name)
                if pd.sensitive and declared_field is not None and not isinstance(declared_field, EncryptedField):
                    errors.append(
                        checks.Error(
                            f"{model._meta.label}.{name} is declared sensitive but is not an EncryptedField.",
                            obj=model,
                            id="collectpro.E003",
                        )
                    )
        order = list(concrete)
        for name, f in concrete.items():
            if isinstance(f, EncryptedField) and f.blind_index:
                if f.blind_index not in concrete:
                    errors.append(
                        checks.Error(
                            f"{model._meta.label}.{name}: blind index field '{f.blind_index}' does not exist.",
                            obj=model,
                            id="collectpro.E004",
                        )
                    )
                elif order.index(f.blind_index) < order.index(name):
                    errors.append(
                        checks.Error(
                            f"{model._meta.label}.{name}: declare '{f.blind_index}' after the encrypted field.",
                            obj=model,
                            id="collectpro.E005",
                        )
                    )
    return errors


@checks.register()
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    try:
        parse_key_list(settings.FIELD_ENCRYPTION_KEYS)
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), id="collectpro.E010"))
    try:
        parse_single_key(settings.BLIND_INDEX_KEY, variable="BLIND_INDEX_KEY")
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), id="collectpro.E011"))
    errors += check_dotted_path(
        "FIELD_ENCRYPTION_KEY_PROVIDER", KeyProvider, default="kernel.crypto.keys.EnvKeyProvider", id="collectpro.E012"
    )
    return errors


# Classes that moved when the apps were layered (ADR 0015): a setting still naming
# the old path is told the new one at start-up, not at the first encryption or SMS.
MOVED_PATHS = {"collectpro.crypto.": "kernel.crypto.", "consent.sms.": "communications.sms."}


def check_dotted_path(setting: str, base: type, *, default: str, id: str) -> list[checks.CheckMessage]:
    """An error unless the setting names an importable subclass of ``base``."""
    path = getattr(settings, setting, default)
    try:
        cls = import_string(path)
    except ImportError:
        moved = next((path.replace(old, new, 1) for old, new in MOVED_PATHS.items() if path.startswith(old)), None)
        hint = f"Did you mean {moved!r}? That class moved." if moved else f"The default is {default!r}."
        return [checks.Error(f"{setting}={path!r} cannot be imported.", hint=hint, id=id)]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        return [checks.Error(f"{setting}={path!r} is not a {base.__name__}.", id=id)]
    return []
