"""What a headless ``reproduce()`` returns: claims, measured values, verdicts and figures."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Claim:
    """A paper's headline statement and what our small-scale version checks instead.

    ``key`` names the measured metric that decides it (an entry of ``Result.metrics``).
    """

    key: str
    paper: str  # what the paper reports, with its number
    check: str  # what our reproduction checks, with the threshold


@dataclasses.dataclass(frozen=True)
class ClaimResult:
    """The verdict on one claim. ``skipped``: not checked in this mode (e.g. a claim only the
    full run can afford); it neither passes nor fails the result, and says so."""

    claim: Claim
    measured: Any  # the value of ``Result.metrics[claim.key]``
    passed: bool
    detail: str = ""
    skipped: bool = False

    @property
    def verdict(self) -> str:
        """``"PASS"``, ``"FAIL"`` or ``"SKIP"``."""
        return "SKIP" if self.skipped else "PASS" if self.passed else "FAIL"


@dataclasses.dataclass
class Result:
    """Outcome of ``Page.reproduce``. ``figures`` maps names to HoloViews objects."""

    slug: str
    quick: bool
    claims: list[ClaimResult]
    metrics: dict[str, Any]
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.passed or c.skipped for c in self.claims)

    def summary(self) -> str:
        """A plain-text table: one line per claim with the measured value and PASS/FAIL."""
        mode = "quick" if self.quick else "full"
        lines = [f"{self.slug} ({mode}, {self.seconds:.1f} s)"]
        for c in self.claims:
            verdict = c.verdict
            detail = f"  [{c.detail}]" if c.detail else ""
            lines.append(f"  {verdict}  {c.claim.check}: measured {_fmt(c.measured)}{detail}")
            lines.append(f"        paper: {c.claim.paper}")
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
