"""Workspace keys and subject keys: creation, unwrapping (cached), shredding.

**A shred takes effect in every process within a second.** Unwrapped subject keys
are cached per process (5 minutes), so a key shredded by one process (an erasure on
a worker) would stay usable in the others until their entry expires. Each workspace
therefore has a *shred generation* in the shared Django cache (Redis in production):
how many of its keys were shredded and when the latest was, published when the
shredding transaction commits.
Every cached subject key is tagged with the generation read *before* it was loaded
from the database; a cached key whose tag differs from the current generation is
not used but loaded again (and a shredded key then fails to load).

Why a generation and not a database re-check: asking Redis costs ~150 µs and asking
PostgreSQL more, while decrypting a value costs under 1 µs, so checking on every use
would make a page or an export of thousands of values hundreds of times slower. A
process reads the generation at most once per ``KEYRING_SHRED_CHECK_SECONDS`` per
workspace (default 1 s; 0 checks on every use): one cache read per second per
workspace, and a shredded key is refused everywhere at most that long after the
shred commits (it was 5 minutes). If the cache has lost the generation (eviction,
restart), it is rebuilt from the database (the same count and time), so a stale key
cannot come back; if the cache cannot be reached at all, every
cached key is checked in the database until it can.

**Kept data outlives the person's key.** Erasure may have to keep some of a
person's encrypted values (a legal hold, a dispute record the law keeps). It moves
them under a *retention key* of the same person (subject type
``"<type>.retained"``, see ``retained_subject_type``) before shredding their own
key. Once a person's key is shredded, new values for them (a note added on a held
debt) are sealed under that retention key if one is live; with none, writing fails
with ``SubjectKeyShredded`` (the person was erased)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils import timezone

from kernel.audit_port import SUBJECT_KEY_SHREDDED, audit_event
from kernel.crypto import blind_index
from kernel.crypto.keys import KEY_BYTES, NONCE_BYTES, blind_index_root, get_key_provider
from kernel.models import SubjectKey, WorkspaceKey


class SubjectKeyShredded(Exception):
    """The person's data key was destroyed (erasure): their encrypted values are gone."""


class WorkspaceKeyRetired(RuntimeError):
    """A workspace key retired by rotation was needed: its material no longer exists."""


class UnknownSubjectKey(LookupError):
    """No data key with this id in this workspace (e.g. a value copied from another one)."""


class _TTLCache:
    """A small LRU with expiry, so a shredded key stops working everywhere within TTL."""

    def __init__(self, size: int = 10_000, ttl: float = 300.0):
        self._data: OrderedDict[object, tuple[float, object]] = OrderedDict()
        self._size, self._ttl = size, ttl
        self._lock = threading.Lock()

    def get(self, key: object) -> object | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return item[1]

    def put(self, key: object, value: object) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + self._ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_wk_cache = _TTLCache(size=1_000)
# Subject keys, tagged with the shred generation read before they were loaded:
# (workspace id, key id) → (material, generation) and
# (workspace id, subject type, subject id) → (key id, material, generation).
_sk_cache = _TTLCache()
_sk_by_subject = _TTLCache()

logger = logging.getLogger(__name__)

RETAINED_SUFFIX = ".retained"
_GENERATION_KEY = "keyring:shred-generation:{}"
# workspace id → (monotonic time read, generation): this process's last look at the cache.
_generation_seen: dict[int, tuple[float, object]] = {}
_clock: Callable[[], float] = time.monotonic  # tests move it


def retained_subject_type(subject_type: str) -> str:
    """The subject type of a person's retention key: what erasure keeps of them (a
    legal hold, records the law keeps) is sealed under it before their own key is
    shredded, and it is shredded in turn when nothing needs keeping any more."""
    return subject_type + RETAINED_SUFFIX


def _generation_from_database(workspace_id: int) -> str:
    """How many keys of the workspace were ever shredded, and the latest time: it
    changes with every shred (a shred is never undone), whatever the clocks say."""
    seen = (
        SubjectKey.objects.for_workspace(workspace_id)
        .filter(shredded_at__isnull=False)
        .aggregate(n=Count("pk"), latest=Max("shredded_at"))
    )
    return f"{seen['n']}:{seen['latest'].isoformat() if seen['latest'] else ''}"


def shred_generation(workspace_id: int) -> object:
    """The workspace's shred generation as this process may use it now: read from the
    shared cache at most once per ``KEYRING_SHRED_CHECK_SECONDS`` (module docstring)."""
    interval = float(getattr(settings, "KEYRING_SHRED_CHECK_SECONDS", 1.0))
    now = _clock()
    seen = _generation_seen.get(workspace_id)
    if seen is not None and interval > 0 and now - seen[0] < interval:
        return seen[1]
    value: object
    try:
        value = cache.get(_GENERATION_KEY.format(workspace_id))
        if value is None:  # never set, evicted or lost: the database knows the latest shred
            value = _generation_from_database(workspace_id)
            cache.add(_GENERATION_KEY.format(workspace_id), value, timeout=None)
    except Exception:  # the cache is down: trust no cached key (each is checked in the database)
        logger.warning("keyring: shred generation unavailable; checking data keys in the database", exc_info=True)
        value = object()
    _generation_seen[workspace_id] = (now, value)
    return value


def _publish_generation(workspace_id: int, generation: str) -> None:
    """Tell every process that a key of this workspace was shredded (after the commit:
    a process that reloaded a key before it would otherwise keep it)."""
    _generation_seen.pop(workspace_id, None)
    try:
        cache.set(_GENERATION_KEY.format(workspace_id), generation, timeout=None)
    except Exception:
        logger.exception("keyring: could not publish the shred generation of workspace %s", workspace_id)


@lru_cache(maxsize=4096)
def aead_for(key: bytes) -> AESGCM:
    """One cipher object per data key (building one costs about as much as a short
    encryption). Cleared with the other caches, e.g. after a shred."""
    return AESGCM(key)


def clear_cache() -> None:
    aead_for.cache_clear()
    _wk_cache.clear()
    _sk_cache.clear()
    _sk_by_subject.clear()
    _generation_seen.clear()


def reset_key_caches() -> None:
    """Forget every loaded key, master keys included (tests that change settings;
    after rotation). Lives here, above ``keys`` and ``blind_index``, which it clears."""
    get_key_provider.cache_clear()
    blind_index_root.cache_clear()
    blind_index.clear_cache()  # per-workspace keys derived from the old root
    clear_cache()


def _wk_aad(wk: WorkspaceKey) -> bytes:
    return f"collectpro|wk|{wk.workspace_id}|{wk.pk}".encode()


def _sk_aad(sk: SubjectKey) -> bytes:
    return subject_key_aad(sk.workspace_id, sk.subject_type, sk.subject_id, sk.pk)


def subject_key_aad(workspace_id: int, subject_type: str, subject_id: object, key_id: object) -> bytes:
    return f"collectpro|sk|{workspace_id}|{subject_type}|{subject_id}|{key_id}".encode()


def _wrap(kek: bytes, key: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aead_for(kek).encrypt(nonce, key, aad)


def _unwrap(kek: bytes, blob: bytes, aad: bytes) -> bytes:
    return AESGCM(kek).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)


def workspace_key_material(wk: WorkspaceKey) -> bytes:
    cached = _wk_cache.get(wk.pk)
    if cached is not None:
        return cached  # type: ignore[return-value]
    if wk.retired_at is not None or not wk.wrapped_key:
        raise WorkspaceKeyRetired(
            f"workspace key {wk.pk} was retired by rotate_keys (its material is erased); "
            "nothing should still be wrapped under it"
        )
    material = get_key_provider().unwrap(wk.master_key_id, bytes(wk.wrapped_key), _wk_aad(wk))
    _wk_cache.put(wk.pk, material)
    return material


def workspace_key_create(workspace_id: int) -> WorkspaceKey:
    provider = get_key_provider()
    material = os.urandom(KEY_BYTES)
    wk = WorkspaceKey(workspace_id=workspace_id)
    master_id, blob = provider.wrap(material, _wk_aad(wk))
    wk.master_key_id = master_id
    wk.wrapped_key = blob
    wk.save(force_insert=True)
    _wk_cache.put(wk.pk, material)
    return wk


def active_workspace_key(workspace_id: int, *, use_cache: bool = True) -> WorkspaceKey:
    """The newest workspace key wrapped by the primary master key, created if needed.

    ``use_cache=False`` asks the database: a cached key may have been retired since
    by ``rotate_keys`` running in another process."""
    primary = get_key_provider().primary_key_id
    cache_key = ("active", workspace_id, primary)
    cached = _wk_cache.get(cache_key) if use_cache else None
    if cached is not None:
        return cached  # type: ignore[return-value]
    wk = (
        WorkspaceKey.objects.for_workspace(workspace_id)
        .filter(master_key_id=primary, retired_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    if wk is None:
        with transaction.atomic():
            wk = workspace_key_create(workspace_id)
    _wk_cache.put(cache_key, wk)
    return wk


def _sk_material(sk: SubjectKey) -> bytes:
    if sk.wrapped_key is None or sk.shredded_at is not None:
        raise SubjectKeyShredded(f"{sk.subject_type} {sk.subject_id}: data key was shredded")
    wk = WorkspaceKey.objects.for_workspace(sk.workspace_id).get(pk=sk.workspace_key_id)
    return _unwrap(workspace_key_material(wk), bytes(sk.wrapped_key), _sk_aad(sk))


def subject_key_for(workspace_id: int, subject_type: str, subject_id: str) -> tuple[str, bytes]:
    """(subject key id, key) for a person, created on first use. Once their key is
    shredded: their live retention key if they have one, else ``SubjectKeyShredded``."""
    cache_key = (workspace_id, subject_type, subject_id)
    generation = shred_generation(workspace_id)
    cached = _sk_by_subject.get(cache_key)
    if cached is not None and cached[2] == generation:  # type: ignore[index]
        return cached[0], cached[1]  # type: ignore[index]
    qs = SubjectKey.objects.for_workspace(workspace_id)
    sk = qs.filter(subject_type=subject_type, subject_id=subject_id).first()
    if sk is not None and sk.shredded_at is not None and not subject_type.endswith(RETAINED_SUFFIX):
        retained = qs.filter(
            subject_type=retained_subject_type(subject_type), subject_id=subject_id, shredded_at__isnull=True
        ).first()
        if retained is not None:
            sk = retained
    if sk is None:
        # Never wrap a new data key under a cached workspace key: if a rotation elsewhere
        # retired it (and erased it), the new key would be unreadable everywhere else.
        wk = active_workspace_key(workspace_id, use_cache=False)
        material = os.urandom(KEY_BYTES)
        sk = SubjectKey(workspace_id=workspace_id, subject_type=subject_type, subject_id=subject_id, workspace_key=wk)
        sk.wrapped_key = _wrap(workspace_key_material(wk), material, _sk_aad(sk))
        try:
            with transaction.atomic():
                sk.save(force_insert=True)
        except IntegrityError:  # created concurrently: use the winner's key
            sk = qs.get(subject_type=subject_type, subject_id=subject_id)
            material = _sk_material(sk)
    else:
        material = _sk_material(sk)
    result = (str(sk.pk), material)
    _sk_by_subject.put(cache_key, (*result, generation))
    _sk_cache.put((workspace_id, str(sk.pk)), (material, generation))
    return result


def subject_key_by_id(workspace_id: int, key_id: str) -> bytes:
    # Cached per workspace: a key id from another workspace must miss, not hit.
    generation = shred_generation(workspace_id)
    cached = _sk_cache.get((workspace_id, key_id))
    if cached is not None and cached[1] == generation:  # type: ignore[index]
        return cached[0]  # type: ignore[index, no-any-return]
    try:
        sk = SubjectKey.objects.for_workspace(workspace_id).filter(pk=key_id).first()
    except ValidationError as exc:  # not even a key id (a damaged value)
        raise UnknownSubjectKey(f"{key_id!r} is not a data key id") from exc
    if sk is None:
        raise UnknownSubjectKey(f"data key {key_id} does not exist in this workspace")
    material = _sk_material(sk)
    _sk_cache.put((workspace_id, key_id), (material, generation))
    return material


def subject_key_rewrap(sk: SubjectKey, new_wk: WorkspaceKey) -> None:
    """Move a subject key under another workspace key. The data key itself (and so
    every field value) is unchanged, which is why reads work during rotation."""
    material = _sk_material(sk)
    old_wk_id = sk.workspace_key_id
    wrapped = _wrap(workspace_key_material(new_wk), material, _sk_aad(sk))
    # Conditional update: if another rotator moved it first, this is a no-op.
    SubjectKey.unscoped.filter(pk=sk.pk, workspace_key_id=old_wk_id).update(workspace_key=new_wk, wrapped_key=wrapped)


def subject_key_shred(workspace_id: int, subject_type: str, subject_id: str) -> bool:
    """Destroy a person's data key. Returns False if they had none (or it is already
    shredded). Every process stops using it within ``KEYRING_SHRED_CHECK_SECONDS`` of
    the commit (module docstring)."""
    shredded_at = timezone.now()
    with transaction.atomic():
        updated = (
            SubjectKey.objects.for_workspace(workspace_id)
            .filter(subject_type=subject_type, subject_id=subject_id, shredded_at__isnull=True)
            .update(wrapped_key=None, shredded_at=shredded_at)
        )
        if updated:
            audit_event(
                action=SUBJECT_KEY_SHREDDED,
                workspace=workspace_id,
                object_type=subject_type,
                object_id=str(subject_id),
            )
            generation = _generation_from_database(workspace_id)
            transaction.on_commit(lambda: _publish_generation(workspace_id, generation))
    clear_cache()
    return bool(updated)


def subject_key_is_shredded(workspace_id: int, subject_type: str, subject_id: str) -> bool:
    """Whether this person's own data key exists and was shredded (asks the database)."""
    return (
        SubjectKey.objects.for_workspace(workspace_id)
        .filter(subject_type=subject_type, subject_id=subject_id, shredded_at__isnull=False)
        .exists()
    )


def subject_key_id(workspace_id: int, subject_type: str, subject_id: str) -> str | None:
    """The id of a person's data key (shredded or not), without unwrapping it; None if
    they have none."""
    pk = (
        SubjectKey.objects.for_workspace(workspace_id)
        .filter(subject_type=subject_type, subject_id=subject_id)
        .values_list("pk", flat=True)
        .first()
    )
    return str(pk) if pk is not None else None


@dataclass(frozen=True)
class SubjectKeyMaker:
    """Makes data keys for new subjects of one workspace without a query per key
    (a placement import makes hundreds of thousands). Picklable, so worker processes
    can make keys too: it carries the unwrapped workspace key, and lives in memory
    only for the length of one import."""

    workspace_id: int
    workspace_key_id: str
    kek: bytes

    @classmethod
    def for_workspace(cls, workspace_id: int) -> SubjectKeyMaker:
        wk = active_workspace_key(workspace_id, use_cache=False)  # see subject_key_for
        return cls(workspace_id, str(wk.pk), workspace_key_material(wk))

    def make(self, subject_type: str, subject_id: str, key_id: object) -> tuple[bytes, bytes]:
        """(key material, wrapped key) of a new subject key with id ``key_id``."""
        material = os.urandom(KEY_BYTES)
        aad = subject_key_aad(self.workspace_id, subject_type, subject_id, key_id)
        return material, _wrap(self.kek, material, aad)


def subject_keys_bulk_create(
    workspace_id: int,
    subject_type: str,
    subject_ids: Iterable[str],
) -> dict[str, tuple[str, bytes]]:
    """Create data keys for many *new* subjects in one INSERT and prime the caches,
    so encrypting their fields right after needs no further query. The ids must be
    fresh: an existing key fails the whole batch. (A placement import uses
    ``SubjectKeyMaker`` and writes the rows itself.)"""
    generation = shred_generation(workspace_id)
    maker = SubjectKeyMaker.for_workspace(workspace_id)
    rows: list[SubjectKey] = []
    out: dict[str, tuple[str, bytes]] = {}
    for subject_id in subject_ids:
        sk = SubjectKey(
            workspace_id=workspace_id,
            subject_type=subject_type,
            subject_id=subject_id,
            workspace_key_id=maker.workspace_key_id,
        )
        material, sk.wrapped_key = maker.make(subject_type, subject_id, sk.pk)
        rows.append(sk)
        out[subject_id] = (str(sk.pk), material)
    SubjectKey.objects.for_workspace(workspace_id).bulk_create(rows)
    for subject_id, (key_id, material) in out.items():
        _sk_by_subject.put((workspace_id, subject_type, subject_id), (key_id, material, generation))
        _sk_cache.put((workspace_id, key_id), (material, generation))
    return out


def subject_keys_load(workspace_id: int, subject_type: str, subject_ids: Iterable[str]) -> set[str]:
    """Unwrap the data keys of many existing subjects with one query and prime the
    caches (so decrypting their fields does not query per row). Returns the ids whose
    key was shredded: their encrypted data is gone and must not be written again."""
    ids = list(subject_ids)
    shredded: set[str] = set()
    if not ids:
        return shredded
    generation = shred_generation(workspace_id)
    keys = list(SubjectKey.objects.for_workspace(workspace_id).filter(subject_type=subject_type, subject_id__in=ids))
    wk_ids = {sk.workspace_key_id for sk in keys if sk.wrapped_key is not None and sk.shredded_at is None}
    keks = {
        wk.pk: workspace_key_material(wk)
        for wk in WorkspaceKey.objects.for_workspace(workspace_id).filter(pk__in=wk_ids)
    }
    for sk in keys:
        if sk.wrapped_key is None or sk.shredded_at is not None:
            shredded.add(sk.subject_id)
            continue
        material = _unwrap(keks[sk.workspace_key_id], bytes(sk.wrapped_key), _sk_aad(sk))
        _sk_by_subject.put((workspace_id, subject_type, sk.subject_id), (str(sk.pk), material, generation))
        _sk_cache.put((workspace_id, str(sk.pk)), (material, generation))
    return shredded
