"""The model lifecycle: stages and the transitions allowed between them.

Allowed moves::

    development  -> staging, archived
    staging      -> production, development, deprecated, archived
    production   -> deprecated
    deprecated   -> production (re-promotion, rollback), staging, archived
    archived     -> nothing (terminal)

Promoting a version to production demotes the current production version to deprecated in the
same atomic operation.  Archived is terminal.

Examples
--------
>>> Stage.parse("Production")
<Stage.PRODUCTION: 'production'>
>>> can_transition("development", "production")
False
>>> sorted(str(s) for s in ALLOWED_TRANSITIONS[Stage.STAGING])
['archived', 'deprecated', 'development', 'production']
>>> Stage.parse("prod")
Traceback (most recent call last):
...
ValueError: stage must be one of development, staging, production, deprecated, archived; got 'prod'
"""

from __future__ import annotations

import enum

__all__ = ["Stage", "ALLOWED_TRANSITIONS", "GATED_STAGES", "can_transition"]


class Stage(enum.StrEnum):
    """Lifecycle stage of a model version."""

    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"
    DEPRECATED = "deprecated"
    ARCHIVED = "archived"

    @classmethod
    def parse(cls, value: Stage | str) -> Stage:
        """The stage named ``value`` (case-insensitive), or ``ValueError`` listing the stages."""
        if isinstance(value, Stage):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        accepted = ", ".join(s.value for s in cls)
        raise ValueError(f"stage must be one of {accepted}; got {value!r}")


ALLOWED_TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.DEVELOPMENT: frozenset({Stage.STAGING, Stage.ARCHIVED}),
    Stage.STAGING: frozenset({Stage.PRODUCTION, Stage.DEVELOPMENT, Stage.DEPRECATED, Stage.ARCHIVED}),
    Stage.PRODUCTION: frozenset({Stage.DEPRECATED}),
    Stage.DEPRECATED: frozenset({Stage.PRODUCTION, Stage.STAGING, Stage.ARCHIVED}),
    Stage.ARCHIVED: frozenset(),
}

#: Stages a quality gate applies to by default.
GATED_STAGES = (Stage.STAGING, Stage.PRODUCTION)


def can_transition(from_stage: Stage | str, to_stage: Stage | str) -> bool:
    """Whether the lifecycle allows ``from_stage -> to_stage``."""
    return Stage.parse(to_stage) in ALLOWED_TRANSITIONS[Stage.parse(from_stage)]
