# Our app shares its name with the `fhir` namespace of the fhir.resources library (used by the
# tests to validate every response). Extending the package path lets `fhir.resources` resolve
# to that library while `fhir.api` etc. stay ours; without the library installed it is a no-op.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
