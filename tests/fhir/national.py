"""Reads NHS England's CP-IS examples (tests/fhir/fixtures/) into shapes a test can compare.

A shape is the set of element paths, each starting at its resource type
(`AuditEvent.agent.who.reference`), plus the codings and identifier systems used. XML and JSON
give the same shape for the same resource, so our JSON answers compare with the national XML.
"""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
_NS = "{http://hl7.org/fhir}"


def _xml_paths(element, prefix: str, paths: set[str]) -> None:
    for child in element:
        if not isinstance(child.tag, str):  # a comment
            continue
        name = child.tag.removeprefix(_NS)
        if name[0].isupper():  # a resource inside `resource` or `contained`
            paths.add(name)
            _xml_paths(child, name, paths)
            continue
        path = f"{prefix}.{name}"
        paths.add(path)
        if "url" in child.attrib:
            paths.add(f"{path}.url")
        _xml_paths(child, path, paths)


def _xml_root(name: str):
    return ET.parse(FIXTURES / name).getroot()


def _json_paths(value, prefix: str, paths: set[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _json_paths(item, prefix, paths)
    elif isinstance(value, dict):
        if "resourceType" in value:
            prefix = value["resourceType"]
            paths.add(prefix)
        for key, item in value.items():
            if key == "resourceType":
                continue
            # A primitive's extensions (`_value`) are the same element in XML (`<value>`).
            path = f"{prefix}.{key.removeprefix('_')}"
            paths.add(path)
            _json_paths(item, path, paths)


def _codings(value, found: set[tuple]) -> set[tuple]:
    if isinstance(value, list):
        for item in value:
            _codings(item, found)
    elif isinstance(value, dict):
        if "system" in value and ("code" in value or "display" in value):
            found.add((value["system"], value.get("code"), value.get("display")))
        for item in value.values():
            _codings(item, found)
    return found


def _systems(value, found: set[str]) -> set[str]:
    if isinstance(value, list):
        for item in value:
            _systems(item, found)
    elif isinstance(value, dict):
        if isinstance(value.get("system"), str) and value["system"] not in ("phone", "email", "url"):
            found.add(value["system"])
        for item in value.values():
            _systems(item, found)
    return found


def _xml_to_json(element):
    """Just enough of FHIR's XML-to-JSON mapping for codings and systems (values as strings)."""
    result: dict = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = child.tag.removeprefix(_NS)
        value = child.attrib["value"] if "value" in child.attrib else _xml_to_json(child)
        if name[0].isupper():
            value = {"resourceType": name, **value}
            return value
        result.setdefault(name, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in result.items()}


class Shape:
    def __init__(self, paths: set[str], codings: set[tuple], systems: set[str]):
        self.paths, self.codings, self.systems = paths, codings, systems

    @classmethod
    def of_json(cls, body: dict) -> "Shape":
        paths: set[str] = set()
        _json_paths(body, "", paths)
        return cls(paths, _codings(body, set()), _systems(body, set()))

    @classmethod
    def of_example(cls, name: str, resource_type: str | None = None) -> "Shape":
        """The example file's shape; `resource_type` picks one resource out of a Bundle."""
        if name.endswith(".json"):
            return cls.of_json(json.loads((FIXTURES / name).read_text()))
        root = _xml_root(name)
        body = {"resourceType": root.tag.removeprefix(_NS), **_xml_to_json(root)}
        paths: set[str] = set()
        top = root.tag.removeprefix(_NS)
        paths.add(top)
        _xml_paths(root, top, paths)
        shape = cls(paths, _codings(body, set()), _systems(body, set()))
        return shape.only(resource_type) if resource_type else shape

    def only(self, resource_type: str) -> "Shape":
        prefix = f"{resource_type}."
        paths = {p for p in self.paths if p == resource_type or p.startswith(prefix)}
        return Shape(paths, self.codings, self.systems)


def example_entries(name: str) -> list[tuple[str, str]]:
    """Each entry of an example Bundle, in order: (resource type, search mode)."""
    entries = []
    for entry in _xml_root(name).iter(f"{_NS}entry"):
        resource = next(child for child in entry.find(f"{_NS}resource") if isinstance(child.tag, str))
        mode = entry.find(f"{_NS}search/{_NS}mode").attrib["value"]
        entries.append((resource.tag.removeprefix(_NS), mode))
    return entries


def example_link(name: str, relation: str) -> str:
    """The URL of an example Bundle's link with this relation."""
    for link in _xml_root(name).iter(f"{_NS}link"):
        if link.find(f"{_NS}relation").attrib["value"] == relation:
            return link.find(f"{_NS}url").attrib["value"]
    raise KeyError(relation)
