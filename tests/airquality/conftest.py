from tests.api.conftest import put
from tests.simulators.conftest import uba_dir

__all__ = ["put", "uba_dir"]
