"""Jinja's compiled templates kept on disk for the next worker (cpis/jinja2.py)."""

from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

from cpis.jinja2 import environment

pytestmark = pytest.mark.django_db


def test_a_new_environment_loads_the_templates_another_compiled(tmp_path):
    with override_settings(JINJA_BYTECODE_CACHE_DIR=str(tmp_path)):
        environment().get_template("base.jinja")
        kept = sorted(tmp_path.iterdir())
        assert kept, "nothing was kept"
        loaded = []
        second = environment()
        cache = second.bytecode_cache
        original = cache.load_bytecode

        def load(bucket):
            original(bucket)
            loaded.append(bucket.code is not None)

        cache.load_bytecode = load
        second.get_template("base.jinja")
        assert loaded and all(loaded)
        assert sorted(tmp_path.iterdir()) == kept


def test_pages_render_when_the_directory_cannot_be_written(tmp_path: Path, client):
    # A file where the directory should be: no process can write there, root included.
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    with override_settings(JINJA_BYTECODE_CACHE_DIR=str(not_a_directory)):
        env = environment()
        assert env.bytecode_cache is not None
        assert env.get_template("base.jinja") is not None
        assert client.get(reverse("accounts:login")).status_code == 200
