"""One module per demo page; each defines a :class:`DemoPage` subclass."""

from ._base import DemoPage as DemoPage
from ._result import Claim as Claim
from ._result import ClaimResult as ClaimResult
from ._result import Result as Result
