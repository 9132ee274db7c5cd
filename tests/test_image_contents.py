"""What the image holds, worked out as `docker build` would (there is no Docker engine in CI):
the files the Dockerfile's COPY instructions take from the build context, less those that
.dockerignore leaves out. No fake (the local PDS server and its patients, the demo's OpenID
Connect provider and the sign-on it seeds) may be among them."""

import importlib.util
import json
import os
import posixpath
import re
from fnmatch import fnmatchcase
from io import StringIO
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The fakes, by folder; each must exist, so that moving one elsewhere fails here too.
FAKES = ("demo/pds/", "demo/single_sign_on/")
# What a fake is, whatever its folder: a server of its own, or the OpenID Connect provider.
FAKE_MARKERS = ("http.server", "oidc-provider")


class DockerIgnore:
    """.dockerignore as Docker reads it (moby/patternmatcher): each line a pattern, cleaned, from
    the context's root; `*` and `?` stay within one path segment, `**` spans any number of them;
    a pattern matches a path or any of its parent folders; a later `!pattern` takes a match back;
    the last matching line wins. Character classes are not used here and are refused."""

    def __init__(self, text: str):
        self.patterns: list[tuple[re.Pattern[str], bool]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            pattern = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
            self.patterns.append((self._compile(pattern), exclusion))

    @staticmethod
    def _compile(pattern: str) -> re.Pattern[str]:
        if "[" in pattern or "\\" in pattern:
            raise ValueError(f"this matcher does not implement {pattern!r}: extend it first")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):
                    i += 1
                regex += ".*" if i == len(pattern) else "(.*/)?"
                continue
            regex += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
            i += 1
        return re.compile(f"^{regex}$")

    def ignores(self, path: str) -> bool:
        parents = path.split("/")[:-1]
        candidates = [path] + ["/".join(parents[: n + 1]) for n in range(len(parents))]
        ignored = False
        for regex, exclusion in self.patterns:
            if any(regex.match(candidate) for candidate in candidates):
                ignored = not exclusion
        return ignored


def context_files(ignore: DockerIgnore) -> set[str]:
    """Every file the build context sends, relative to its root."""
    files = set()
    for directory, folders, names in os.walk(ROOT):
        relative = Path(directory).relative_to(ROOT).as_posix()
        prefix = "" if relative == "." else f"{relative}/"
        # Docker too skips an ignored folder's contents, unless a `!` line could take some back.
        if not any(exclusion for _, exclusion in ignore.patterns):
            folders[:] = [f for f in folders if not ignore.ignores(prefix + f)]
        files.update(prefix + name for name in names if not ignore.ignores(prefix + name))
    return files


def copy_sources(dockerfile: str) -> list[str]:
    """The sources of every COPY/ADD that reads the build context (not `--from` a stage)."""
    sources = []
    for line in dockerfile.replace("\\\n", " ").splitlines():
        words = line.split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        flags = [w for w in words[1:] if w.startswith("--")]
        if any(flag.startswith("--from=") for flag in flags):
            continue
        arguments = line.split(None, 1)[1].strip()
        for flag in flags:
            arguments = arguments.replace(flag, "", 1).strip()
        paths = json.loads(arguments) if arguments.startswith("[") else arguments.split()
        sources.extend(posixpath.normpath(p).lstrip("/") for p in paths[:-1])
    return sources


def image_files() -> set[str]:
    ignore = DockerIgnore((ROOT / ".dockerignore").read_text())
    context = context_files(ignore)
    copied = set()
    for source in copy_sources((ROOT / "Dockerfile").read_text()):
        for path in context:
            if source == "." or path == source or path.startswith(f"{source}/") or fnmatchcase(path, source):
                copied.add(path)
    return copied


@pytest.mark.parametrize(
    ("pattern", "path", "ignored"),
    [
        ("tests", "tests/identity/pds.py", True),
        ("tests", "mytests/pds.py", False),
        ("tests", "identity/tests/x.py", False),
        ("/tests/", "tests/x.py", True),
        ("*.sqlite3", "db.sqlite3", True),
        ("*.sqlite3", "var/db.sqlite3", False),
        ("**/*.sqlite3", "var/db.sqlite3", True),
        ("**/*.sqlite3", "db.sqlite3", True),
        ("**/__pycache__", "identity/__pycache__/records.cpython-311.pyc", True),
        ("demo/pds", "demo/pds/fixtures/patients.json", True),
        ("demo/pds", "demo/pds_notes.py", False),
        ("demo/*.py", "demo/plans.py", True),
        ("demo/*.py", "demo/management/commands/seed_demo.py", False),
        ("demo/?lans.py", "demo/plans.py", True),
        ("demo/**", "demo/management/commands/seed_demo.py", True),
        ("demo\n!demo/plans.py", "demo/plans.py", False),
        ("demo\n!demo/plans.py", "demo/apps.py", True),
        ("!demo/plans.py\ndemo", "demo/plans.py", True),
    ],
)
def test_the_dockerignore_matcher_follows_docker(pattern, path, ignored):
    assert DockerIgnore(pattern).ignores(path) is ignored


def test_copy_sources_are_read_as_docker_reads_them():
    dockerfile = 'FROM x AS a\nCOPY package.json \\\n  package-lock.json ./\nFROM y\nCOPY --from=a /app/node_modules ./nm\nCOPY --chown=1000 ["manage.py", "cpis/", "/app/"]\nADD . .\n'
    assert copy_sources(dockerfile) == ["package.json", "package-lock.json", "manage.py", "cpis", "."]


def test_the_image_holds_the_service_and_no_fake():
    files = image_files()
    # What the service runs from is there (so an empty list cannot pass)...
    assert {"manage.py", "requirements.txt", "cpis/settings/base.py", "identity/pds_client.py"} <= files
    assert "demo/management/commands/seed_demo.py" in files  # DEMO=true still seeds the demo
    assert not [f for f in files if f.startswith(("tests/", "bench/", ".git/", ".ci/"))]
    # ...and no fake, by folder or by what it is.
    for fake in FAKES:
        assert any((ROOT / fake).iterdir()), f"{fake} moved: update FAKES and .dockerignore"
    assert sorted(f for f in files if f.startswith(FAKES)) == []
    fakes = [
        f
        for f in files
        if f.endswith((".py", ".mjs", ".js", ".json"))
        and f not in ("package.json", "package-lock.json")
        and any(marker in (ROOT / f).read_text(errors="replace") for marker in FAKE_MARKERS)
    ]
    assert fakes == []


def test_the_image_installs_no_npm_package_of_a_fake():
    """The image's node_modules is `npm ci --omit=dev`'s: the provider is a development dependency."""
    package = json.loads((ROOT / "package.json").read_text())
    assert "oidc-provider" in package["devDependencies"]
    assert "oidc-provider" not in package.get("dependencies", {})
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    assert lock["node_modules/oidc-provider"].get("dev") is True
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN npm ci\b.*--omit=dev", dockerfile, re.MULTILINE)


@pytest.mark.django_db
def test_seed_demo_in_the_image_seeds_no_single_sign_on(settings, monkeypatch):
    """Without demo/single_sign_on/ (as in the image) seed_demo still runs, with no provider
    pointing at a local OpenID Connect provider that is not there."""
    from django.core.management import call_command

    from single_sign_on.models import IdentityProvider

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "demo.single_sign_on" else find_spec(name, *a)
    )
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "0 single sign-on providers" in out.getvalue()
    assert not IdentityProvider.objects.exists()
