"""A model instance's INSERT as SQL, to be one part of a larger statement.

The check writes its visit, notifications, outbox rows and audit event in one statement on
PostgreSQL (attendances/services/check.py). The visit's and the audit event's columns must not
be written out by hand beside their models: a new field, a default or a conversion would then
have two copies that drift. So the INSERT is what Django's own `Model.save()` would send for
the same unsaved instance, from the same fields, `pre_save` and database conversions, only
with named parameters, so that it can sit in a `WITH` beside other statements' parameters.
"""

from collections.abc import Mapping
from typing import Any

from django.db import connections
from django.db.models import Model
from django.db.models.sql import InsertQuery


def insert_statement(
    instance: Model, *, name: str, expressions: Mapping[str, str] | None = None, using: str = "default"
) -> tuple[str, dict[str, Any]]:
    """`INSERT INTO <table> (<columns>) VALUES (...)` for the unsaved `instance`, and its
    parameters, each named `<name>_<column>`.

    `expressions` replaces a column's value by SQL (another part of the statement's result,
    say); the SQL may use `%(<name>_<column>)s`, the value Django would have written there.
    Raises ValueError for a field whose placeholder is not a plain parameter (a geometry, an
    expression as a value, a `db_default`): such a model cannot take part this way, and the
    check's tests, which run the one statement, fail on the first such field added.
    """
    meta = instance._meta
    if instance._state.adding is False or instance.pk is not None:
        raise ValueError("insert_statement writes new rows only")
    # The fields `Model._save_table` inserts for a row without a primary key yet.
    fields = [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]
    query = InsertQuery(type(instance))
    query.insert_values(fields, [instance])
    connection = connections[using]
    compiler = query.get_compiler(connection=connection)
    ((sql, params),) = compiler.as_sql()
    head, values = sql.split(" VALUES ", 1)
    placeholders = values.strip().removeprefix("(").removesuffix(")").split(", ")
    if len(placeholders) != len(fields) or any(p != "%s" for p in placeholders):
        raise ValueError(f"{meta.label}: a column's value is not a plain parameter: {values}")
    named = {}
    sql_values = []
    unused = set(expressions or ())
    for field, value in zip(fields, params, strict=True):
        key = f"{name}_{field.column}"
        named[key] = value
        expression = (expressions or {}).get(field.column)
        unused.discard(field.column)
        sql_values.append(expression if expression is not None else f"%({key})s")
    if unused:
        raise ValueError(f"{meta.label} has no column {sorted(unused)}")
    return f"{head} VALUES ({', '.join(sql_values)})", named
