import pytest

from tests.identity.pds import LocalPds


@pytest.fixture(scope="session")
def local_pds_server(tmp_path_factory):
    server = LocalPds(tmp_path_factory.mktemp("pds-keys"))
    yield server
    server.stop()


@pytest.fixture
def pds(local_pds_server, settings):
    """The local PDS server, reset, with the service configured to verify against it."""
    local_pds_server.reset()
    local_pds_server.configure(settings)
    yield local_pds_server
    local_pds_server.reset()
