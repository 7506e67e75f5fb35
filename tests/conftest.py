import pytest

from mrkcheck.check.explicit import check
from mrkcheck.model.kms import build


@pytest.fixture(scope="session")
def kms_default():
    """The default instance: 3 Regions, 1 key set, both origins."""
    return build()


@pytest.fixture(scope="session")
def kms_default_result(kms_default):
    return check(kms_default)
