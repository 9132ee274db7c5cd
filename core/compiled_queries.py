"""QuerySets compiled to SQL once per process, then run again with other values.

On the check's path, building a QuerySet (filters, annotations, `select_related`) and compiling
it to SQL cost Django more CPU than PostgreSQL spends running it (docs/performance.md). The
SQL comes from the QuerySet itself, so the rule it expresses (`Plan.objects.visible`, say) is
still written once, in the ORM: this only remembers what Django made of it.

A placeholder is a value the QuerySet is built with that changes from call to call (the NHS
number); the helper builds the QuerySet once with a sentinel in its place, finds where the
sentinel landed among the SQL's parameters, and puts each call's value there. Values the
QuerySet folds into other values (today's date, from which the rule computes "365 days ago")
are `vary_on`: the QuerySet is compiled again when one of them changes.
"""

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from threading import Lock
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]  # Django-internal, as ModelIterable uses it

# A new value of a `vary_on` argument (a new day) compiles the QuerySet again; older ones go.
_KEPT_PER_QUERY = 4


class NotCompilable(Exception):
    """A placeholder's value does not reach the SQL as it was given (the database's driver
    needs it converted first, as SQLite does with a UUID): the QuerySet is then built and run
    as usual on every call."""


_SENTINEL_MARK = "\x00cpis-placeholder-"


def _sentinel(kind: type) -> object:
    if kind is str:
        return f"{_SENTINEL_MARK}{uuid.uuid4().hex}\x00"
    if kind is uuid.UUID:
        return uuid.uuid4()
    # Values no real row holds, and unlike any constant a QuerySet carries.
    if kind is int:
        # Negative (no id is), and within a 32-bit column's range, or Django folds it away.
        return -random.randrange(2**30, 2**31 - 1)  # noqa: S311 - a marker, not a secret
    if kind is datetime:
        return datetime(1901, 1, 1, tzinfo=UTC) + timedelta(microseconds=random.randrange(1, 2**40))  # noqa: S311
    raise TypeError(f"No placeholder sentinel for {kind.__name__}")


class _Compiled:
    def __init__(self, queryset: QuerySet[Any], sentinels: dict[str, object]) -> None:
        self.db = queryset.db
        compiler = queryset.query.get_compiler(using=self.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            raise NotCompilable("the sentinel made the query empty") from None
        self.sql, self.params = sql, list(params)
        self.slots: dict[str, list[int]] = {}
        for name, sentinel in sentinels.items():
            positions = [i for i, p in enumerate(self.params) if type(p) is type(sentinel) and p == sentinel]
            if not positions:
                raise NotCompilable(name)
            self.slots[name] = positions
        placed = {i for positions in self.slots.values() for i in positions}
        if any(_SENTINEL_MARK in str(p) for i, p in enumerate(self.params) if i not in placed):
            raise NotCompilable("a placeholder reached the SQL changed")  # inside a LIKE pattern, say
        # What ModelIterable reads from a compiler that has just run: fixed for this SQL.
        self.compiler = compiler
        select, klass_info = compiler.select, compiler.klass_info
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [f[0].target.attname for f in select[self.start : self.end]]
        self.related_populators = get_related_populators(klass_info, select, self.db)
        self.annotation_col_map = compiler.annotation_col_map
        self.trim = compiler.col_count if compiler.has_extra_select else None

    def run(self, values: dict[str, Any]) -> list[Any]:
        params = list(self.params)
        for name, positions in self.slots.items():
            for i in positions:
                params[i] = values[name]
        with connections[self.db].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if self.trim is not None:
            rows = [row[: self.trim] for row in rows]
        objects = []
        for row in self.compiler.results_iter([rows]):
            obj = self.model.from_db(self.db, self.init_list, row[self.start : self.end])
            for populator in self.related_populators:
                populator.populate(row, obj)
            for attr, position in (self.annotation_col_map or {}).items():
                setattr(obj, attr, row[position])
            objects.append(obj)
        return objects


class CompiledQuerySet:
    """`build(**values)` (a function returning a QuerySet of model instances) run as SQL
    compiled once per process, per value of the `vary_on` arguments.

    `placeholders` names the arguments that change from call to call, with their type (str,
    int, UUID or an aware datetime). Calling returns a list of model instances, as `list(build(**values))` would, with
    the same `select_related` objects and annotations.
    """

    def __init__(
        self, build: Callable[..., QuerySet[Any]], *, placeholders: dict[str, type], vary_on: tuple[str, ...] = ()
    ) -> None:
        self.build = build
        self.placeholders = placeholders
        self.vary_on = vary_on
        self._compiled: dict[tuple[Any, ...], _Compiled | None] = {}
        self._lock = Lock()

    def _for(self, values: dict[str, Any]) -> "_Compiled | None":
        key = (*(values[name] for name in self.vary_on),)
        if key in self._compiled:
            return self._compiled[key]
        sentinels = {name: _sentinel(kind) for name, kind in self.placeholders.items()}
        try:
            compiled = _Compiled(self.build(**{**values, **sentinels}), sentinels)
        except NotCompilable:
            compiled = None
        with self._lock:
            if len(self._compiled) >= _KEPT_PER_QUERY:
                self._compiled.clear()
            self._compiled[key] = compiled
        return compiled

    def __call__(self, **values: Any) -> list[Any]:
        compiled = self._for(values)
        if compiled is None:
            return list(self.build(**values))
        return compiled.run(values)
